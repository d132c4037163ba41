import React from 'react';

interface IIconProps {
  title?: string;
}

function Svg(props: { children: React.ReactNode; title?: string }) {
  return (
    <svg
      className="jp-sessions-icon"
      viewBox="0 0 16 16"
      width="16"
      height="16"
      aria-hidden={props.title ? undefined : true}
      role={props.title ? 'img' : undefined}
    >
      {props.title ? <title>{props.title}</title> : null}
      {props.children}
    </svg>
  );
}

/** An icon drawn by one filled path. */
function pathIcon(d: string): (props: IIconProps) => JSX.Element {
  return function PathIcon(props: IIconProps): JSX.Element {
    return (
      <Svg title={props.title}>
        <path d={d} fill="currentColor" />
      </Svg>
    );
  };
}

export const RefreshIcon = pathIcon(
  'M13.6 2.4v3.9H9.7l1.5-1.5A4.5 4.5 0 1 0 12.4 9h1.5a6 6 0 1 1-1.7-5.2z'
);

export const AddIcon = pathIcon(
  'M7.25 2h1.5v5.25H14v1.5H8.75V14h-1.5V8.75H2v-1.5h5.25z'
);

export const BackIcon = pathIcon(
  'M10.3 2.3 11.7 3.7 7.4 8l4.3 4.3-1.4 1.4L4.6 8z'
);

export const CopyIcon = pathIcon(
  'M5 1.5h7.5A1.5 1.5 0 0 1 14 3v8.5h-1.5V3H5zM2 5a1.5 1.5 0 0 1 1.5-1.5h6A1.5 1.5 0 0 1 11 5v8.5A1.5 1.5 0 0 1 9.5 15h-6A1.5 1.5 0 0 1 2 13.5zm1.5 0v8.5h6V5z'
);

export const CloseIcon = pathIcon(
  'm4.1 3 3.9 3.9L11.9 3 13 4.1 9.1 8l3.9 3.9-1.1 1.1L8 9.1 4.1 13 3 11.9 6.9 8 3 4.1z'
);
