/**
 * Dense float64 linear algebra for the feature statistics (FID, KID): plain JavaScript, because the sizes are
 * modest (Gram matrices of a few hundred samples, covariances of 2048 features) and the precision matters (FID is
 * a small difference of large traces), which float32 tensor ops would not give.
 *
 * Matrices are row-major `Float64Array`s.
 */

/** Result of {@link symmetricEigen}: eigenvalues ascending; eigenvectors as the columns of `vectors` (n x n). */
export interface SymmetricEigen {
  values: Float64Array;
  vectors?: Float64Array;
}

/**
 * Eigen-decomposition of a real symmetric matrix: Householder reduction to tridiagonal form, then the QL
 * algorithm with implicit Wilkinson-style shifts. O(n^3); backward stable, so eigenvalues are accurate to
 * about eps * ||A|| even for the rank-deficient covariances of small sample sets.
 * @param a n x n symmetric matrix (only read, never modified).
 */
export function symmetricEigen(a: Float64Array, n: number, options: { vectors?: boolean } = {}): SymmetricEigen {
  if (a.length !== n * n) throw new Error(`symmetricEigen: expected ${n * n} entries, got ${a.length}`);
  const wantVectors = options.vectors ?? false;
  const m = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n); // e[i] couples i and i + 1
  const householders: { k: number; v: Float64Array; beta: number }[] = [];

  // 1. Householder tridiagonalisation: zero column k below the subdiagonal, for k = 0 .. n - 3.
  for (let k = 0; k + 2 < n; k++) {
    const len = n - k - 1;
    const v = new Float64Array(len);
    let norm2 = 0;
    for (let i = 0; i < len; i++) {
      v[i] = m[(k + 1 + i) * n + k]!;
      norm2 += v[i]! * v[i]!;
    }
    const tail2 = norm2 - v[0]! * v[0]!;
    if (tail2 === 0) {
      e[k] = v[0]!;
      continue;
    }
    const alpha = v[0]! >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
    v[0] = v[0]! - alpha;
    const vv = tail2 + v[0]! * v[0]!;
    const beta = 2 / vv;
    // Trailing block B = m[k+1.., k+1..] <- H B H with H = I - beta v v^T:
    // p = beta B v, q = p - (beta/2)(v^T p) v, B <- B - v q^T - q v^T.
    const p = new Float64Array(len);
    for (let i = 0; i < len; i++) {
      const row = (k + 1 + i) * n + k + 1;
      let s = 0;
      for (let j = 0; j < len; j++) s += m[row + j]! * v[j]!;
      p[i] = beta * s;
    }
    let vp = 0;
    for (let i = 0; i < len; i++) vp += v[i]! * p[i]!;
    const kk = (beta / 2) * vp;
    for (let i = 0; i < len; i++) p[i] = p[i]! - kk * v[i]!;
    for (let i = 0; i < len; i++) {
      const row = (k + 1 + i) * n + k + 1;
      const vi = v[i]!, qi = p[i]!;
      for (let j = 0; j < len; j++) m[row + j] = m[row + j]! - vi * p[j]! - qi * v[j]!;
    }
    e[k] = alpha;
    householders.push({ k, v, beta });
  }
  for (let i = 0; i < n; i++) d[i] = m[i * n + i]!;
  if (n >= 2) e[n - 2] = m[(n - 1) * n + n - 2]!;
  e[n - 1] = 0;

  // 2. Eigenvectors are kept transposed (one per row of zt) so that each QL rotation, which mixes two
  // eigenvectors, touches two contiguous rows. zt starts as Q^T = H_last ... H_1 H_0 (A = Q T Q^T).
  let zt: Float64Array | undefined;
  if (wantVectors) {
    zt = new Float64Array(n * n);
    for (let i = 0; i < n; i++) zt[i * n + i] = 1;
    const w = new Float64Array(n);
    for (const { k, v, beta } of householders) {
      const len = n - k - 1;
      // rows k+1.. of zt: zt <- zt - beta v (v^T zt)
      w.fill(0);
      for (let i = 0; i < len; i++) {
        const row = (k + 1 + i) * n;
        const vi = v[i]!;
        if (vi !== 0) for (let j = 0; j < n; j++) w[j] = w[j]! + vi * zt[row + j]!;
      }
      for (let i = 0; i < len; i++) {
        const row = (k + 1 + i) * n;
        const c = beta * v[i]!;
        if (c !== 0) for (let j = 0; j < n; j++) zt[row + j] = zt[row + j]! - c * w[j]!;
      }
    }
  }

  // 3. Implicit QL on the tridiagonal (d, e).
  for (let l = 0; l < n; l++) {
    let iterations = 0;
    for (;;) {
      let mm = l;
      for (; mm < n - 1; mm++) {
        const dd = Math.abs(d[mm]!) + Math.abs(d[mm + 1]!);
        if (Math.abs(e[mm]!) <= Number.EPSILON * dd) break;
      }
      if (mm === l) break;
      if (++iterations > 100) throw new Error('symmetricEigen: QL did not converge');
      // Shift from the leading 2x2 block.
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = d[mm]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1, c = 1, p = 0;
      let i = mm - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] = d[i + 1]! - p;
          e[mm] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        if (zt) {
          const ri = i * n, rf = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const zf = zt[rf + k]!;
            const zi = zt[ri + k]!;
            zt[rf + k] = s * zi + c * zf;
            zt[ri + k] = c * zi - s * zf;
          }
        }
      }
      if (underflow) continue;
      d[l] = d[l]! - p;
      e[l] = g;
      e[mm] = 0;
    }
  }

  // 4. Sort ascending (with the vectors).
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[x]! - d[y]!);
  const values = Float64Array.from(order, (i) => d[i]!);
  if (!zt) return { values };
  const vectors = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    const src = order[c]! * n;
    for (let r = 0; r < n; r++) vectors[r * n + c] = zt[src + r]!;
  }
  return { values, vectors };
}

/**
 * Principal square root of a symmetric positive semi-definite matrix, V diag(sqrt(max(lambda, 0))) V^T.
 * Tiny negative eigenvalues (rounding of a singular matrix) are clamped to zero.
 */
export function sqrtmPsd(a: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n, { vectors: true });
  const v = vectors!;
  const sv = new Float64Array(n * n); // V diag(sqrt(lambda))
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) sv[r * n + c] = v[r * n + c]! * Math.sqrt(Math.max(values[c]!, 0));
  }
  return matMulTransB(sv, v, n, n, n);
}

/** C = A B (A: m x k, B: k x n). */
export function matMul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p]!;
      if (aip === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j] = c[ci + j]! + aip * b[bp + j]!;
    }
  }
  return c;
}

/** C = A B^T (A: m x k, B: n x k): dot products of rows, e.g. a Gram matrix. */
export function matMulTransB(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const ai = i * k;
    for (let j = 0; j < n; j++) {
      const bj = j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += a[ai + p]! * b[bj + p]!;
      c[i * n + j] = s;
    }
  }
  return c;
}

/** C = A^T A / divisor (A: m x k), e.g. a covariance from centred rows. Exploits symmetry. */
export function gramOfColumns(a: Float64Array, m: number, k: number, divisor = 1): Float64Array {
  const c = new Float64Array(k * k);
  for (let r = 0; r < m; r++) {
    const row = r * k;
    for (let i = 0; i < k; i++) {
      const ai = a[row + i]!;
      if (ai === 0) continue;
      const ci = i * k;
      for (let j = i; j < k; j++) c[ci + j] = c[ci + j]! + ai * a[row + j]!;
    }
  }
  for (let i = 0; i < k; i++) {
    for (let j = i; j < k; j++) {
      const v = c[i * k + j]! / divisor;
      c[i * k + j] = v;
      c[j * k + i] = v;
    }
  }
  return c;
}
