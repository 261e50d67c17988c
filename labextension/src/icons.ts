/**
 * The panel's icon: a cube (an instance) with a rising line (a training curve).
 * `jp-icon3` fills follow the theme.
 */
import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 1.5 21.5 7v10L12 22.5 2.5 17V7L12 1.5Zm0 2.3L4.9 7.9 12 12l7.1-4.1L12 3.8ZM4.5 9.6v6.2l6.5 3.8v-6.2L4.5 9.6Zm15 0L13 13.4v6.2l6.5-3.8V9.6Z"/>
  </g>
</svg>`;

export const smMagicsIcon = new LabIcon({ name: 'sm-magics:icon', svgstr: svg });
