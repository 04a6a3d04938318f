// Page numbers come from the dashboard's URLs; one past the end (after deletions, or typed by hand) shows the last
// page rather than an empty one.
export interface PageWindow {
  /** 1-based, clamped to 1..pages. */
  page: number;
  /** At least 1, so an empty list still has a page to show. */
  pages: number;
  /** Rows before the page. */
  skip: number;
}

export function pageWindow(total: number, page: number, pageSize: number): PageWindow {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const shown = Math.min(Math.max(1, page), pages);
  return { page: shown, pages, skip: (shown - 1) * pageSize };
}
