// Merged into @jupyter/builder's rspack config (package.json jupyterlab.webpackConfig).
// Named module and chunk ids are paths relative to this folder, so a build is byte-identical
// wherever the repository is checked out; the default "deterministic" ids differed between
// /work/main and a clone elsewhere (`make labextension-check` compares with the commit).
module.exports = {
  optimization: {
    moduleIds: 'named',
    chunkIds: 'named'
  }
};
