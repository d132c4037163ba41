import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4 4h16a2 2 0 0 1 2 2v3a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm0 2v3h16V6zm2 .75h2v1.5H6z"/>
    <path d="M4 13h16a2 2 0 0 1 2 2v3a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2v-3a2 2 0 0 1 2-2zm0 2v3h16v-3zm2 .75h2v1.5H6z"/>
  </g>
</svg>`;

/** The side panel's tab icon: two stacked servers. */
export const sessionsIcon = new LabIcon({
  name: 'jupyter-sessions:sessions',
  svgstr: svg
});
