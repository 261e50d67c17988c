"use strict";(self.rspackChunksm_magics=self.rspackChunksm_magics||[]).push([["style_index_js"],{"./node_modules/css-loader/dist/cjs.js!./style/base.css"(e,o,t){var r=t("./node_modules/css-loader/dist/runtime/noSourceMaps.js"),n=t.n(r),i=t("./node_modules/css-loader/dist/runtime/api.js"),a=(t.n(i))()(n());a.push([e.id,`/*
 * sm-magics side panel and log view. Only JupyterLab theme variables, so the light and
 * dark themes (and any other) both fit.
 */

.sm-Panel {
  display: flex;
  flex-direction: column;
  min-width: 220px;
  background: var(--jp-layout-color1);
  color: var(--jp-ui-font-color1);
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size1);
}

.sm-Panel-header {
  display: flex;
  align-items: center;
  justify-content: space-between;
  padding: 6px 8px 2px 12px;
  flex: 0 0 auto;
}

.sm-Panel-title {
  font-size: var(--jp-ui-font-size0);
  font-weight: 600;
  letter-spacing: 1px;
  text-transform: uppercase;
  color: var(--jp-ui-font-color1);
}

.sm-Panel-refresh.jp-Button {
  display: flex;
  align-items: center;
  justify-content: center;
  width: 24px;
  min-width: 24px;
  height: 24px;
  padding: 0;
}

.sm-Panel-billing {
  display: flex;
  flex-direction: column;
  gap: 2px;
  padding: 4px 12px 8px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
  color: var(--jp-ui-font-color2);
  flex: 0 0 auto;
}

.sm-Panel-billingRate {
  font-size: var(--jp-ui-font-size2);
  font-weight: 600;
  color: var(--jp-ui-font-color1);
}

.sm-Panel-billing[data-billing='true'] .sm-Panel-billingRate {
  color: var(--jp-warn-color1);
}

.sm-Panel-billingNow {
  display: flex;
  flex-wrap: wrap;
  align-items: baseline;
  gap: 2px 8px;
}

.sm-Panel-billingCount {
  font-size: var(--jp-ui-font-size0);
}

/* On a line of its own: it is never cut off, however narrow the panel. */
.sm-Panel-billingTotals {
  font-size: var(--jp-ui-font-size0);
  overflow-wrap: anywhere;
}

.sm-Panel-tools {
  display: flex;
  align-items: center;
  gap: 6px;
  padding: 6px 8px 6px 12px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
  flex: 0 0 auto;
}

.sm-Panel-search {
  flex: 1 1 auto;
  min-width: 0;
  height: 24px;
  padding: 0 6px;
  box-sizing: border-box;
  font-size: var(--jp-ui-font-size1);
}

.sm-Panel-hideFinished.jp-Button {
  flex: 0 0 auto;
  height: 24px;
  padding: 0 6px;
  font-size: var(--jp-ui-font-size0);
  white-space: nowrap;
}

.sm-Panel-hideFinished[aria-pressed='true'] {
  background: var(--jp-layout-color3);
  color: var(--jp-ui-font-color0);
}

.sm-Panel-groupHeading {
  display: block;
  width: 100%;
  padding: 4px 12px;
  border: none;
  border-top: var(--jp-border-width) solid var(--jp-border-color3);
  background: transparent;
  color: var(--jp-ui-font-color2);
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size0);
  font-weight: 600;
  text-align: left;
  white-space: nowrap;
  overflow: hidden;
  text-overflow: ellipsis;
  cursor: pointer;
}

.sm-Panel-groupHeading:hover {
  background: var(--jp-layout-color2);
  color: var(--jp-ui-font-color1);
}

.sm-Panel-groupHeading[hidden],
.sm-Panel-group[hidden],
.sm-Panel-more[hidden],
.sm-Panel-more.jp-Button[hidden],
.sm-Panel-section[hidden] {
  display: none;
}

.sm-Panel-more.jp-Button {
  display: block;
  margin: 4px 12px 6px;
  padding: 0 8px;
  height: 24px;
  font-size: var(--jp-ui-font-size0);
  color: var(--jp-brand-color1);
}

.sm-Item-reason {
  margin: 2px 0;
  font-size: var(--jp-ui-font-size0);
  color: var(--jp-error-color1);
  overflow: hidden;
  display: -webkit-box;
  -webkit-line-clamp: 2;
  -webkit-box-orient: vertical;
  overflow-wrap: anywhere;
}

.sm-Item-reason[hidden] {
  display: none;
}

.sm-Panel-error {
  margin: 6px 8px;
  padding: 6px 8px;
  border-left: 3px solid var(--jp-error-color1);
  background: var(--jp-layout-color2);
  color: var(--jp-ui-font-color1);
  white-space: pre-wrap;
  word-break: break-word;
}

.sm-Panel-content {
  flex: 1 1 auto;
  overflow-y: auto;
}

.sm-Panel-section {
  padding: 0 0 4px;
}

.sm-Panel-sectionTitle {
  display: flex;
  align-items: center;
  gap: 6px;
  margin: 0;
  padding: 8px 12px 4px;
  font-size: var(--jp-ui-font-size0);
  font-weight: 600;
  letter-spacing: 0.5px;
  text-transform: uppercase;
  color: var(--jp-ui-font-color2);
}

.sm-Panel-count {
  min-width: 16px;
  padding: 0 5px;
  border-radius: 8px;
  background: var(--jp-layout-color3);
  color: var(--jp-ui-font-color1);
  text-align: center;
  letter-spacing: 0;
}

.sm-Panel-list {
  list-style: none;
  margin: 0;
  padding: 0;
}

.sm-Panel-empty {
  padding: 4px 12px 8px;
  color: var(--jp-ui-font-color2);
  font-style: italic;
}

.sm-Item {
  padding: 6px 8px 6px 12px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
}

.sm-Item:hover {
  background: var(--jp-layout-color2);
}

.sm-Item-row {
  display: flex;
  align-items: center;
  gap: 8px;
  min-height: 20px;
}

.sm-Item-name {
  flex: 1 1 auto;
  min-width: 0;
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
  font-weight: 600;
  color: var(--jp-ui-font-color1);
}

.sm-Item-status {
  flex: 0 0 auto;
  font-weight: 600;
  white-space: nowrap;
}

.sm-Item-status::before {
  content: '●';
  margin-right: 4px;
  font-size: 9px;
  vertical-align: 1px;
}

.sm-Item-meta {
  min-height: 18px;
  font-size: var(--jp-ui-font-size0);
  color: var(--jp-ui-font-color2);
}

.sm-Item-details {
  flex: 1 1 auto;
  min-width: 0;
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
}

.sm-Item-timing {
  flex: 0 0 auto;
  white-space: nowrap;
}

/* What it cost and its rate: two parts that wrap in a narrow panel, never cut. */
.sm-Item-cost {
  display: flex;
  flex-wrap: wrap;
  column-gap: 0.4em;
  flex: 1 1 auto;
  min-width: 0;
  color: var(--jp-ui-font-color1);
}

.sm-Item-spent,
.sm-Item-rate {
  white-space: nowrap;
}

.sm-Item-rate {
  color: var(--jp-ui-font-color2);
}

.sm-Item-rate[hidden] {
  display: none;
}

/* A model version's source job: one line, its middle cut by the panel (registry.ts). */
.sm-Item-cost.sm-Item-source {
  display: block;
  overflow: hidden;
  white-space: nowrap;
  text-overflow: ellipsis;
  font-size: var(--jp-ui-font-size0);
  color: var(--jp-ui-font-color2);
}

/* Who changed a model version's status and when, and its description. */
.sm-Item-note {
  margin: 1px 0 2px;
  font-size: var(--jp-ui-font-size0);
  color: var(--jp-ui-font-color2);
  overflow-wrap: anywhere;
}

.sm-Item-note[hidden] {
  display: none;
}

.sm-Item-approve .jp-icon3[fill] {
  fill: var(--jp-success-color1);
}

.sm-Item-reject .jp-icon3[fill] {
  fill: var(--jp-error-color1);
}

/* A model group's heading says what is approved and what waits: wrap it, never cut it. */
.sm-Panel-models .sm-Panel-groupHeading {
  white-space: normal;
}

/* The lineage of an endpoint or a model version: a disclosure line, then a small tree. */
.sm-Lineage-toggle {
  flex: 0 0 auto;
  margin: 2px 0 0 -2px;
  padding: 1px 2px;
  border: none;
  border-radius: var(--jp-border-radius);
  background: transparent;
  color: var(--jp-brand-color1);
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size0);
  cursor: pointer;
}

/* The closed lineage line: the toggle, then what the endpoint serves. */
.sm-Lineage-line {
  display: flex;
  align-items: baseline;
  gap: 6px;
  min-width: 0;
}

.sm-Lineage-summary {
  min-width: 0;
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
  font-size: var(--jp-ui-font-size0);
  color: var(--jp-ui-font-color2);
}

.sm-Lineage-toggle:hover {
  background: var(--jp-layout-color3);
}

.sm-Lineage-toggle:focus-visible {
  outline: var(--jp-border-width) solid var(--jp-brand-color1);
}

.sm-Lineage-body {
  margin: 2px 0 2px 2px;
  font-size: var(--jp-ui-font-size0);
}

.sm-Lineage-summary[hidden],
.sm-Lineage-body[hidden] {
  display: none;
}

.sm-Lineage-list {
  list-style: none;
  margin: 0;
  padding: 0;
}

.sm-Lineage-list .sm-Lineage-list {
  margin-left: 4px;
  padding-left: 8px;
  border-left: var(--jp-border-width) solid var(--jp-border-color1);
}

.sm-Lineage-node {
  padding: 2px 0;
}

.sm-Lineage-head {
  color: var(--jp-ui-font-color2);
}

.sm-Lineage-relation {
  font-style: italic;
}

.sm-Lineage-kind {
  text-transform: uppercase;
  letter-spacing: 0.3px;
  font-size: 9px;
}

.sm-Lineage-name {
  font-weight: 600;
  color: var(--jp-ui-font-color1);
  overflow-wrap: anywhere;
}

.sm-Lineage-detail {
  color: var(--jp-ui-font-color2);
  overflow-wrap: anywhere;
}

.sm-Lineage-key {
  color: var(--jp-ui-font-color3);
}

.sm-Lineage-note {
  color: var(--jp-ui-font-color2);
  font-style: italic;
}

.sm-Lineage-error {
  color: var(--jp-error-color1);
  font-style: normal;
}

.sm-Item-actions {
  display: flex;
  flex: 0 0 auto;
  gap: 2px;
}

.sm-Item-action {
  display: flex;
  align-items: center;
  justify-content: center;
  width: 24px;
  height: 22px;
  padding: 0;
  border: none;
  border-radius: var(--jp-border-radius);
  background: transparent;
  cursor: pointer;
}

.sm-Item-action:hover:not(:disabled) {
  background: var(--jp-layout-color3);
}

.sm-Item-action:focus-visible {
  outline: var(--jp-border-width) solid var(--jp-brand-color1);
}

.sm-Item-action:disabled {
  opacity: 0.4;
  cursor: default;
}

.sm-Item-action[hidden] {
  display: none;
}

/* Stop and delete in the theme's error colour: they end something that bills. */
.sm-Item-stop .jp-icon3[fill],
.sm-Item-delete .jp-icon3[fill] {
  fill: var(--jp-error-color1);
}

/* The log view in the main area. */

.sm-LogView {
  display: flex;
  flex-direction: column;
  background: var(--jp-layout-color1);
  color: var(--jp-content-font-color1);
}

.sm-LogView-status {
  flex: 0 0 auto;
  padding: 4px 12px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size1);
  font-weight: 600;
}

.sm-LogView-scroller {
  flex: 1 1 auto;
  overflow: auto;
}

.sm-LogView-lines {
  margin: 0;
  padding: 6px 12px;
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size);
  line-height: var(--jp-code-line-height);
  white-space: pre-wrap;
  word-break: break-all;
}

.sm-LogView-time {
  color: var(--jp-ui-font-color3);
}

.sm-LogView-host {
  color: var(--jp-brand-color1);
}

/* A job's or endpoint's snapshot where its widget cannot be shown (fallback.ts). */
.sm-Snapshot-note {
  margin: 4px 0;
  padding: 4px 8px;
  border-left: 3px solid var(--jp-warn-color1);
  background: var(--jp-layout-color2);
  color: var(--jp-ui-font-color1);
  font-size: var(--jp-ui-font-size1);
}
`,""]),t.d(o,{},{A:a})},"./node_modules/css-loader/dist/runtime/api.js"(e){e.exports=function(e){var o=[];return o.toString=function(){return this.map(function(o){var t="",r=void 0!==o[5];return o[4]&&(t+="@supports (".concat(o[4],") {")),o[2]&&(t+="@media ".concat(o[2]," {")),r&&(t+="@layer".concat(o[5].length>0?" ".concat(o[5]):""," {")),t+=e(o),r&&(t+="}"),o[2]&&(t+="}"),o[4]&&(t+="}"),t}).join("")},o.i=function(e,t,r,n,i){"string"==typeof e&&(e=[[null,e,void 0]]);var a={};if(r)for(var s=0;s<this.length;s++){var l=this[s][0];null!=l&&(a[l]=!0)}for(var p=0;p<e.length;p++){var d=[].concat(e[p]);r&&a[d[0]]||(void 0!==i&&(void 0===d[5]||(d[1]="@layer".concat(d[5].length>0?" ".concat(d[5]):""," {").concat(d[1],"}")),d[5]=i),t&&(d[2]&&(d[1]="@media ".concat(d[2]," {").concat(d[1],"}")),d[2]=t),n&&(d[4]?(d[1]="@supports (".concat(d[4],") {").concat(d[1],"}"),d[4]=n):d[4]="".concat(n)),o.push(d))}},o}},"./node_modules/css-loader/dist/runtime/noSourceMaps.js"(e){e.exports=function(e){return e[1]}},"./node_modules/style-loader/dist/runtime/injectStylesIntoStyleTag.js"(e){var o=[];function t(e){for(var t=-1,r=0;r<o.length;r++)if(o[r].identifier===e){t=r;break}return t}function r(e,r){for(var n={},i=[],a=0;a<e.length;a++){var s=e[a],l=r.base?s[0]+r.base:s[0],p=n[l]||0,d="".concat(l," ").concat(p);n[l]=p+1;var c=t(d),m={css:s[1],media:s[2],sourceMap:s[3],supports:s[4],layer:s[5]};if(-1!==c)o[c].references++,o[c].updater(m);else{var u=function(e,o){var t=o.domAPI(o);return t.update(e),function(o){o?(o.css!==e.css||o.media!==e.media||o.sourceMap!==e.sourceMap||o.supports!==e.supports||o.layer!==e.layer)&&t.update(e=o):t.remove()}}(m,r);r.byIndex=a,o.splice(a,0,{identifier:d,updater:u,references:1})}i.push(d)}return i}e.exports=function(e,n){var i=r(e=e||[],n=n||{});return function(e){e=e||[];for(var a=0;a<i.length;a++){var s=t(i[a]);o[s].references--}for(var l=r(e,n),p=0;p<i.length;p++){var d=t(i[p]);0===o[d].references&&(o[d].updater(),o.splice(d,1))}i=l}}},"./node_modules/style-loader/dist/runtime/insertBySelector.js"(e){var o={};e.exports=function(e,t){var r=function(e){if(void 0===o[e]){var t=document.querySelector(e);if(window.HTMLIFrameElement&&t instanceof window.HTMLIFrameElement)try{t=t.contentDocument.head}catch(e){t=null}o[e]=t}return o[e]}(e);if(!r)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");r.appendChild(t)}},"./node_modules/style-loader/dist/runtime/insertStyleElement.js"(e){e.exports=function(e){var o=document.createElement("style");return e.setAttributes(o,e.attributes),e.insert(o,e.options),o}},"./node_modules/style-loader/dist/runtime/setAttributesWithoutAttributes.js"(e,o,t){e.exports=function(e){var o=t.nc;o&&e.setAttribute("nonce",o)}},"./node_modules/style-loader/dist/runtime/styleDomAPI.js"(e){e.exports=function(e){if("u"<typeof document)return{update:function(){},remove:function(){}};var o=e.insertStyleElement(e);return{update:function(t){var r,n,i;r="",t.supports&&(r+="@supports (".concat(t.supports,") {")),t.media&&(r+="@media ".concat(t.media," {")),(n=void 0!==t.layer)&&(r+="@layer".concat(t.layer.length>0?" ".concat(t.layer):""," {")),r+=t.css,n&&(r+="}"),t.media&&(r+="}"),t.supports&&(r+="}"),(i=t.sourceMap)&&"u">typeof btoa&&(r+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(i))))," */")),e.styleTagTransform(r,o,e.options)},remove:function(){var e;null===(e=o).parentNode||e.parentNode.removeChild(e)}}}},"./node_modules/style-loader/dist/runtime/styleTagTransform.js"(e){e.exports=function(e,o){if(o.styleSheet)o.styleSheet.cssText=e;else{for(;o.firstChild;)o.removeChild(o.firstChild);o.appendChild(document.createTextNode(e))}}},"./style/index.js"(e,o,t){var r=t("./node_modules/style-loader/dist/runtime/injectStylesIntoStyleTag.js"),n=t.n(r),i=t("./node_modules/style-loader/dist/runtime/styleDomAPI.js"),a=t.n(i),s=t("./node_modules/style-loader/dist/runtime/insertBySelector.js"),l=t.n(s),p=t("./node_modules/style-loader/dist/runtime/setAttributesWithoutAttributes.js"),d=t.n(p),c=t("./node_modules/style-loader/dist/runtime/insertStyleElement.js"),m=t.n(c),u=t("./node_modules/style-loader/dist/runtime/styleTagTransform.js"),f=t.n(u),g=t("./node_modules/css-loader/dist/cjs.js!./style/base.css"),v={};v.styleTagTransform=f(),v.setAttributes=d(),v.insert=l().bind(null,"head"),v.domAPI=a(),v.insertStyleElement=m(),n()(g.A,v),g.A&&g.A.locals&&g.A.locals}}]);