// A line diff (longest common subsequence) for two agent definitions as pretty JSON.

const MAX_CELLS = 4_000_000;

/** [{op: " " | "-" | "+", line}] turning `a` into `b`. */
export function lineDiff(a, b) {
  const x = a.split("\n");
  const y = b.split("\n");
  // Common head and tail first: definitions differ in a few lines, so the table stays small.
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const xs = x.slice(head, x.length - tail);
  const ys = y.slice(head, y.length - tail);
  const out = x.slice(0, head).map((line) => ({ op: " ", line }));
  out.push(...middle(xs, ys));
  out.push(...x.slice(x.length - tail).map((line) => ({ op: " ", line })));
  return out;
}

function middle(xs, ys) {
  const n = xs.length;
  const m = ys.length;
  if ((n + 1) * (m + 1) > MAX_CELLS) {
    return [...xs.map((line) => ({ op: "-", line })), ...ys.map((line) => ({ op: "+", line }))];
  }
  const width = m + 1;
  const table = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i * width + j] = xs[i] === ys[j]
        ? table[(i + 1) * width + j + 1] + 1
        : Math.max(table[(i + 1) * width + j], table[i * width + j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (xs[i] === ys[j]) {
      out.push({ op: " ", line: xs[i] });
      i++;
      j++;
    } else if (table[(i + 1) * width + j] >= table[i * width + j + 1]) {
      out.push({ op: "-", line: xs[i++] });
    } else {
      out.push({ op: "+", line: ys[j++] });
    }
  }
  while (i < n) out.push({ op: "-", line: xs[i++] });
  while (j < m) out.push({ op: "+", line: ys[j++] });
  return out;
}
