/* Integer log-Mel front-end, §4 DFT as plain int64 sums: for CPUs without a double-precision FPU
 * (Cortex-M4F/M33). Build it instead of emg_fe_dft_f64.c (emg_fe_internal.h lists the files);
 * the features are the same bit for bit, and no floating-point type occurs in the build at all.
 *
 * This is DftPlan.dft_int64 of edge/frontend/fft.py: N = N1*N2, pass A forms
 * Y = rshift(sum_n1 u*T, 26) over n1 (length-N1 DFTs), pass B X = rshift(sum_n2 Y*T, 26) over n2,
 * each rounded half up. Widths: u < 2^36, twiddles |C|, |S| <= 2^26 (held as int32, widened to
 * int64 in every product); pass-A sums < 2^62, |Y| < 2^35 + 2^14; pass-B sums < 2^63,
 * |X| < 2^35 + 2^14 (§9), so int64 accumulators hold them in any order; no saturation.
 *
 * One frame at a time and one column k1 at a time: pass A forms Y[., k1] (N2 values; with
 * symmetric twiddles also Y[., N1 - k1]), pass B then forms every needed bin k with
 * k mod N1 = k1 from it, so Y never exists as a whole. The tables are C and S as they are, indexed
 * with j mod N (8 N bytes), instead of the float64 DFT's per-bin split tables.
 */
#include <stdlib.h>

#include "emg_fe_internal.h"

struct emg_fe_dft {
    int32_t *cos_q26; /* [N] C_j, |C_j| <= 2^26 (int32; widened to int64 in every product) */
    int32_t *sin_q26; /* [N] S_j */
};

/* --- §4 pass A, one column k1: Y[n2, k1] for n2 = 0..N2-1 -------------------------------- */

/* Y_re = rshift(sum_n1 u*C_j, 26), Y_im = rshift(-sum_n1 u*S_j, 26), j = n1*k1*N2 mod N.
 * yim_m (symmetric twiddles, 0 < k1 < N1/2; else NULL) receives Y_im of column N1 - k1 too: there
 * j becomes N - j, C_j stays and S_j changes sign, so its sum is the negated one (rounded on its
 * own) and its Y_re equals this column's. */
static void pass_a_int64(const emg_fe_plan *p, const int64_t *u, int k1, int64_t *yre, int64_t *yim,
                         int64_t *yim_m) {
    const int N2 = p->N2, mask = p->N - 1;
    const int step = (k1 * N2) & mask; /* j advances by k1*N2 mod N per n1 */
    int n1, n2, j;
    for (n2 = 0; n2 < N2; n2++) yre[n2] = yim[n2] = 0;
    for (n1 = 0, j = 0; n1 < p->n1c; n1++, j = (j + step) & mask) {
        const int64_t c = p->dft->cos_q26[j], ms = -(int64_t)p->dft->sin_q26[j]; /* int64: |C|, |S| <= 2^26 */
        const int64_t *row = u + (size_t)n1 * N2;
        for (n2 = 0; n2 < N2; n2++) {
            /* int64: every partial sum <= sum |u| * 2^26 < (2^35 + L) * 2^26 < 2^62 */
            yre[n2] += row[n2] * c;
            yim[n2] += row[n2] * ms;
        }
    }
    for (n2 = 0; n2 < N2; n2++) {
        if (yim_m) yim_m[n2] = rshift(-yim[n2], TWIDDLE_BITS); /* int64: |Y| < 2^35 + 2^14 */
        yre[n2] = rshift(yre[n2], TWIDDLE_BITS);
        yim[n2] = rshift(yim[n2], TWIDDLE_BITS);
    }
}

/* --- §4 pass B, the needed bins of one column: k = k1 + N1*k2 in k_lo..k_hi -------------- */

/* X_re = rshift(sum_n2 (Y_re*C_j + Y_im*S_j), 26), X_im = rshift(sum_n2 (Y_im*C_j - Y_re*S_j), 26),
 * j = n2*k mod N; stored at X slot k - kb. */
static void pass_b_int64(const emg_fe_plan *p, const int64_t *yre, const int64_t *yim, int k1, int64_t *xre,
                         int64_t *xim) {
    const int N1 = p->N1, N2 = p->N2, mask = p->N - 1;
    int k = k1 < p->k_lo ? k1 + (p->k_lo - k1 + N1 - 1) / N1 * N1 : k1; /* first k >= k_lo */
    for (; k <= p->k_hi; k += N1) {
        /* int64: every partial sum (and each pair of products, < 2^62 + 2^41) is at most
         * sum_n2 (|Y_re| + |Y_im|) * 2^26 < (2*(2^35 + L) + N2) * 2^26 < 2^63 */
        int64_t re = 0, im = 0;
        int n2, j;
        for (n2 = 0, j = 0; n2 < N2; n2++, j = (j + k) & mask) {
            const int64_t c = p->dft->cos_q26[j], s = p->dft->sin_q26[j]; /* int64: |C|, |S| <= 2^26 */
            re += yre[n2] * c + yim[n2] * s;
            im += yim[n2] * c - yre[n2] * s;
        }
        xre[k - p->kb] = rshift(re, TWIDDLE_BITS); /* int64: |X| < 2^35 + 2^14 */
        xim[k - p->kb] = rshift(im, TWIDDLE_BITS);
    }
}

/* --- the interface of emg_fe_internal.h ------------------------------------------------------ */

/* Frame by frame, column k1 by column. scratch: three columns of Y (Y_re, Y_im, Y_im of N1 - k1). */
void emg_fe_dft_frames(const emg_fe_plan *p, const int64_t *u, size_t u_stride, int n, int64_t *xre,
                       int64_t *xim, size_t x_stride, void *scratch) {
    int64_t *yre = (int64_t *)scratch, *yim = yre + p->N2, *yim_m = yim + p->N2;
    int i, k1;
    for (i = 0; i < n; i++) {
        const int64_t *ui = u + (size_t)i * u_stride;
        int64_t *xr = xre + (size_t)i * x_stride, *xi = xim + (size_t)i * x_stride;
        for (k1 = 0; k1 < p->rows_a; k1++) {
            const int mirror = p->symmetric && k1 > 0 && 2 * k1 < p->N1; /* also column N1 - k1 */
            pass_a_int64(p, ui, k1, yre, yim, mirror ? yim_m : NULL);
            pass_b_int64(p, yre, yim, k1, xr, xi);
            if (mirror) pass_b_int64(p, yre, yim_m, p->N1 - k1, xr, xi);
        }
    }
}

/* X slots are the bins k_lo..k_hi themselves; one frame per call. */
int emg_fe_dft_plan(emg_fe_plan *p, const emg_fe_tables *t) {
    int j;
    p->kb = p->k_lo;
    p->n_x = p->k_hi - p->k_lo + 1;
    p->block = 1;
    p->dft_bytes = 8 * 3 * (size_t)p->N2;
    p->dft = (emg_fe_dft *)calloc(1, sizeof *p->dft);
    if (!p->dft) return EMG_FE_ENOMEM;
    p->dft->cos_q26 = (int32_t *)malloc(sizeof(int32_t) * (size_t)p->N);
    p->dft->sin_q26 = (int32_t *)malloc(sizeof(int32_t) * (size_t)p->N);
    if (!p->dft->cos_q26 || !p->dft->sin_q26) return EMG_FE_ENOMEM;
    for (j = 0; j < p->N; j++) {
        p->dft->cos_q26[j] = (int32_t)t->cos_q26[j]; /* |C_j|, |S_j| <= 2^26, checked by the plan */
        p->dft->sin_q26[j] = (int32_t)t->sin_q26[j];
    }
    return EMG_FE_OK;
}

void emg_fe_dft_free(emg_fe_dft *d) {
    if (!d) return;
    free(d->cos_q26);
    free(d->sin_q26);
    free(d);
}

const char *emg_fe_isa(const emg_fe_plan *p) { (void)p; return "int64"; }
