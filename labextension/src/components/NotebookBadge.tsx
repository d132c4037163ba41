import React from 'react';

export interface INotebookBadgeProps {
  /** Paths of the notebooks open on the session's kernel. */
  paths: readonly string[];
}

/** "Notebook attached" marker of a session: a notebook icon and how many. */
export function NotebookBadge(props: INotebookBadgeProps): JSX.Element | null {
  const count = props.paths.length;
  if (!count) {
    return null;
  }
  const title = `${count === 1 ? 'A notebook is' : `${count} notebooks are`} attached: ${props.paths.join(', ')}`;
  return (
    <span
      className="jp-sessions-notebook-badge"
      title={title}
      aria-label={title}
      role="img"
      data-count={count}
    >
      <svg
        className="jp-sessions-icon"
        viewBox="0 0 16 16"
        width="12"
        height="12"
        aria-hidden="true"
      >
        <rect
          x="3"
          y="1.75"
          width="10"
          height="12.5"
          rx="1.5"
          fill="none"
          stroke="currentColor"
          strokeWidth="1.5"
        />
        <path
          d="M5.5 5.5h5M5.5 8.5h5"
          stroke="currentColor"
          strokeWidth="1.5"
        />
      </svg>
      {count > 1 ? <span>{count}</span> : null}
    </span>
  );
}
