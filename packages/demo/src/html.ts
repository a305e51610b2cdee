const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character] ?? character);
}

const PAGE_STYLE = [
  'body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:2rem 1rem;background:#f4f5f7;color:#1f2933}',
  'main{max-width:26rem;margin:0 auto;background:#fff;padding:1.5rem 2rem;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.15)}',
  'h1{font-size:1.4rem;margin-top:0}',
  'label{display:block;margin:.75rem 0 .25rem;font-weight:600}',
  'input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;border:1px solid #b8c0cc;border-radius:4px}',
  'button{margin-top:1rem;padding:.55rem 1.2rem;font-size:1rem;border:0;border-radius:4px;background:#2557d6;color:#fff;cursor:pointer}',
  'button.secondary{background:#e4e7eb;color:#1f2933;margin-left:.5rem}',
  '.error{color:#b00020;background:#fdecee;padding:.5rem .75rem;border-radius:4px}',
  '.hint{color:#616e7c;font-size:.85rem}',
  'pre{white-space:pre-wrap;word-break:break-word}',
].join('');

/** A complete, self-contained HTML page: inline style only, nothing fetched from elsewhere. */
export function renderPage(title: string, bodyHtml: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<main>
${bodyHtml}
</main>
</body>
</html>
`;
}

/** Pages carry only inline styles; no scripts, images, fonts or frames from anywhere. */
export const PAGE_CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";
