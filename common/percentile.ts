// numpy.percentile ('linear' method) without sorting: the viewer's confidence slider and every
// export resolve their threshold with it. Pure, no imports.

/** k-th smallest (0-based) of arr, reordering arr in place (Hoare quickselect, O(n) average). */
function selectKth(arr: Float32Array, k: number): number {
  let lo = 0;
  let hi = arr.length - 1;
  while (hi > lo) {
    const pivot = arr[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (arr[i] < pivot) i++;
      while (arr[j] > pivot) j--;
      if (i <= j) {
        const t = arr[i];
        arr[i] = arr[j];
        arr[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return arr[k];
  }
  return arr[k];
}

/** numpy.percentile with the default 'linear' method. NaNs must already be removed. */
export function percentile(values: Float32Array, p: number): number {
  if (values.length === 0) return NaN;
  const work = Float32Array.from(values);
  const h = ((work.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const a = selectKth(work, lo);
  if (lo + 1 >= work.length || h === lo) return a;
  // After selecting lo, everything right of it is >= a: the next order statistic is their minimum.
  let b = Infinity;
  for (let i = lo + 1; i < work.length; i++) if (work[i] < b) b = work[i];
  return a + (h - lo) * (b - a);
}
