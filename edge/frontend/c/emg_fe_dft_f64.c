/* Integer log-Mel front-end, §4 DFT formed exactly in float64: the default for processors with a
 * double-precision FPU. Build it, or emg_fe_dft_int64.c, with the plan and stage files
 * (emg_fe_internal.h lists them); the features are the same bit for bit.
 *
 * The DFT is the spec's int64 sums, evaluated exactly:
 *
 *   A float64 holds every integer of magnitude < 2^53 exactly. If every product and every
 *   partial sum of a dot product is such an integer, each floating-point operation is exact
 *   (with or without FMA, in any order), so the float64 result is the integer sum. The spec's
 *   sums reach 2^63, so one factor of each product is split in two:
 *     pass A: twiddle T = T_hi*2^13 + T_lo  (T_hi = T >> 13, T_lo = T & 8191, both <= 2^13)
 *             sum |u|*2^13 < (2^35 + L)*2^13 < 2^49;
 *     pass B: data Y = Y_hi*2^16 + Y_lo      (Y_hi = Y >> 16, Y_lo = Y & 65535)
 *             sum (|Y_re_hi| + |Y_im_hi|)*2^26 < (2^36/2^16 + 3*N2)*2^26 < 2^47,
 *             sum (|Y_re_lo| + |Y_im_lo|)*2^26 < 2*N2*2^16*2^26 <= 2^50   (N2 <= 128).
 *   The two partial sums are recombined in int64 (hi*2^k + lo, < 2^63 in magnitude) and
 *   rounded half up as the spec says (rshift by 26): |Y|, |X| < 2^35 + 2^14, no saturation.
 *   The numpy fast path (DftPlan.dft) uses the same argument. u (int64, |u| < 2^36, from the
 *   window stage) becomes doubles exactly.
 *
 * Layout: pass A vectorises over 8 consecutive n2 (one sample row of u), pass B over 4
 * consecutive bins (same k2, consecutive k1), so every inner loop reads contiguous memory; Y is
 * stored as [k1/4][n2][4] so that the 4-bin groups of one k1 quadruple reuse an 8 KB slice from
 * L1, and pass B runs two groups (two k2) per load of Y, for blocks of 4 frames. On x86-64 with
 * GCC-compatible compilers the block routine is compiled twice, portable and AVX2+FMA (chosen at
 * plan creation with __builtin_cpu_supports), so one binary runs on any x86-64 CPU. Elsewhere
 * (aarch64: NEON doubles) the portable code is used. -DEMG_FE_NO_VECTOR_EXT writes the
 * dispatched code as plain loops (same results; for tests).
 */
#include <stdlib.h>
#include <string.h>

#include "emg_fe_internal.h"

typedef char emg_fe_check_double[sizeof(double) == 8 ? 1 : -1];

#if defined(__GNUC__)
#define EMG_FE_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define EMG_FE_ALWAYS_INLINE static inline
#endif

#if defined(__GNUC__) && defined(__x86_64__)
#define EMG_FE_X86_DISPATCH 1
#endif

/* In the AVX2+FMA variant the two DFT loops use GCC/Clang vector extensions (4 doubles = one
 * ymm register), so that the accumulators stay in registers whatever the auto-vectoriser
 * decides. The portable variant uses plain loops (same results; gcc's lowering of 4-double
 * vectors to SSE2 goes through memory and is slower than its own vectorisation of the loops). */
#if defined(__GNUC__) && !defined(EMG_FE_NO_VECTOR_EXT)
#define EMG_FE_VEC 1
typedef double v4d __attribute__((vector_size(32), aligned(8))); /* aligned(8): any double* */
#define LD(ptr) (*(const v4d *)(const void *)(ptr))
typedef long long v4i __attribute__((vector_size(32), aligned(8)));
typedef unsigned long long v4u __attribute__((vector_size(32), aligned(8)));
/* Exact conversions between integer-valued doubles and int64 for |x| < 2^51: x + 1.5*2^52 is
 * exact (the ulp there is 1) and holds x in its low mantissa bits, so the bit patterns differ
 * by x. (AVX2 has no double <-> int64 conversion instruction.) */
#define MAGIC 6755399441055744.0 /* 1.5 * 2^52 */
#define VMAGIC ((v4d){MAGIC, MAGIC, MAGIC, MAGIC})
#define D2I(x) ((v4i)((v4u)((x) + VMAGIC) - (v4u)VMAGIC))
#define I2D(y) ((v4d)((v4u)(y) + (v4u)VMAGIC) - VMAGIC)
#endif

#define A_SPLIT 13          /* pass-A twiddle split */
#define B_SPLIT 16          /* pass-B data split */
#define VA 8                /* pass A: n2 values per inner loop (accumulators stay in registers) */
#define VB 4                /* pass B: bins per group (consecutive k1, one k2) */
#define BLOCK 4             /* frames per block: pass B reads each table group once per block */
typedef char emg_fe_check_block[BLOCK <= EMG_FE_MAX_BLOCK ? 1 : -1]; /* the frame loop's arrays */

struct emg_fe_dft {
    int32_t n_groups; /* VB-bin groups (k = N1*k2 + VB*c1 + i) that meet k_lo..k_hi */
    int32_t n_jobs;   /* pass-B jobs: one or two groups of the same c1 */
    int32_t use_avx2;
    double *tab_a;    /* [rows_a][4][n1c]: C_hi, C_lo, (-S)_hi, (-S)_lo of j = n1*k1*N2 mod N */
    double *tab_b;    /* [n_groups][N2][2*VB]: C, S of j = n2*k mod N (27 bits, exact) */
    int32_t *job;     /* [n_jobs][3]: c1, group g0, group g1 (-1: none) */
    int32_t *xoff;    /* [n_groups]: X slot of the group's first bin */
};

/* --- scratch ------------------------------------------------------------------------------ */

typedef struct {
    double *ua;                    /* [n1c*N2]: u of one frame as exact doubles (pass A input) */
    double *yrh, *yrl, *yih, *yil; /* [BLOCK][N1/VB][N2][VB]: split Y_re, Y_im (pass A output) */
    size_t y_n;                    /* per-frame stride of Y (8-byte units, a multiple of 64 bytes) */
} scratch;

static scratch scratch_layout(const emg_fe_plan *p, void *mem) {
    scratch s;
    double *d = (double *)mem; /* 64-byte aligned */
    s.y_n = emg_fe_align8((size_t)p->N);
    s.ua = d;  d += emg_fe_align8((size_t)p->n1c * p->N2);
    s.yrh = d; d += BLOCK * s.y_n;
    s.yrl = d; d += BLOCK * s.y_n;
    s.yih = d; d += BLOCK * s.y_n;
    s.yil = d;
    return s;
}

static size_t scratch_bytes(const emg_fe_plan *p) {
    return 8 * (emg_fe_align8((size_t)p->n1c * p->N2) + 4 * BLOCK * emg_fe_align8((size_t)p->N));
}

/* --- §4 pass A: length-N1 DFTs over n1, one per n2 ------------------------------------- */

/* Y (|Y| < 2^35 + 2^14) as Y_hi = Y >> 16 (< 2^20) and Y_lo = Y & 65535, both exact doubles. */
EMG_FE_ALWAYS_INLINE void split_store(int64_t y, double *hi, double *lo) {
    *hi = (double)(y >> B_SPLIT);
    *lo = (double)(y & ((1 << B_SPLIT) - 1));
}

EMG_FE_ALWAYS_INLINE void pass_a(const emg_fe_plan *p, const double *restrict ua, double *restrict yrh,
                                 double *restrict yrl, double *restrict yih, double *restrict yil, const int vec) {
    const int N1 = p->N1, N2 = p->N2, n1c = p->n1c, rows = p->rows_a;
    const int64_t half = (int64_t)1 << (TWIDDLE_BITS - 1);
    int k1, b, n1, i;
    (void)vec;
    for (k1 = 0; k1 < rows; k1++) {
        const double *restrict tch = p->dft->tab_a + (size_t)k1 * 4 * n1c, *restrict tcl = tch + n1c;
        const double *restrict tsh = tcl + n1c, *restrict tsl = tsh + n1c;
        const int mirror = p->symmetric && k1 > 0 && 2 * k1 < N1; /* also fills row N1 - k1 */
        const int km = N1 - k1;
        for (b = 0; b < N2; b += VA) {
            /* exact partial sums (< 2^49) of u*C_hi, u*C_lo, u*(-S)_hi, u*(-S)_lo */
            double ch[VA], cl[VA], sh[VA], sl[VA];
#ifdef EMG_FE_VEC
            if (vec) {
            v4d ch0 = {0, 0, 0, 0}, ch1 = ch0, cl0 = ch0, cl1 = ch0, sh0 = ch0, sh1 = ch0, sl0 = ch0, sl1 = ch0;
            for (n1 = 0; n1 < n1c; n1++) {
                const v4d u0 = LD(ua + (size_t)n1 * N2 + b), u1 = LD(ua + (size_t)n1 * N2 + b + 4);
                const v4d c_hi = {tch[n1], tch[n1], tch[n1], tch[n1]}, c_lo = {tcl[n1], tcl[n1], tcl[n1], tcl[n1]};
                const v4d s_hi = {tsh[n1], tsh[n1], tsh[n1], tsh[n1]}, s_lo = {tsl[n1], tsl[n1], tsl[n1], tsl[n1]};
                ch0 += u0 * c_hi; ch1 += u1 * c_hi;
                cl0 += u0 * c_lo; cl1 += u1 * c_lo;
                sh0 += u0 * s_hi; sh1 += u1 * s_hi;
                sl0 += u0 * s_lo; sl1 += u1 * s_lo;
            }
            /* the scalar epilogue below, 4 lanes at a time: int64 lanes, widths as there */
            {
                const v4i h = {half, half, half, half}, mask = {65535, 65535, 65535, 65535};
                const v4d c_h[2] = {ch0, ch1}, c_l[2] = {cl0, cl1}, s_h[2] = {sh0, sh1}, s_l[2] = {sl0, sl1};
                int q;
                for (q = 0; q < 2; q++) {
                    const v4u are = ((v4u)D2I(c_h[q]) << A_SPLIT) + (v4u)D2I(c_l[q]); /* int64 lanes, < 2^62 */
                    const v4u aim = ((v4u)D2I(s_h[q]) << A_SPLIT) + (v4u)D2I(s_l[q]);
                    const v4i yre = (v4i)(are + (v4u)h) >> TWIDDLE_BITS, yim = (v4i)(aim + (v4u)h) >> TWIDDLE_BITS;
                    const v4d rh = I2D(yre >> B_SPLIT), rl = I2D(yre & mask);
                    const v4d ih = I2D(yim >> B_SPLIT), il = I2D(yim & mask);
                    double *dst[4];
                    size_t o = ((size_t)(k1 / VB) * N2 + b + 4 * q) * VB + k1 % VB;
                    dst[0] = yrh + o; dst[1] = yrl + o; dst[2] = yih + o; dst[3] = yil + o;
                    for (i = 0; i < 4; i++) {
                        dst[0][i * VB] = rh[i]; dst[1][i * VB] = rl[i];
                        dst[2][i * VB] = ih[i]; dst[3][i * VB] = il[i];
                    }
                    if (mirror) {
                        const v4i ym = (v4i)((v4u)h - aim) >> TWIDDLE_BITS;
                        const v4d mh = I2D(ym >> B_SPLIT), ml = I2D(ym & mask);
                        o = ((size_t)(km / VB) * N2 + b + 4 * q) * VB + km % VB;
                        for (i = 0; i < 4; i++) {
                            yrh[o + i * VB] = rh[i]; yrl[o + i * VB] = rl[i];
                            yih[o + i * VB] = mh[i]; yil[o + i * VB] = ml[i];
                        }
                    }
                }
            }
            continue;
            } else
#endif
            {
            for (i = 0; i < VA; i++) ch[i] = cl[i] = sh[i] = sl[i] = 0.0;
            for (n1 = 0; n1 < n1c; n1++) {
                const double *restrict u = ua + (size_t)n1 * N2 + b;
                const double c_hi = tch[n1], c_lo = tcl[n1], s_hi = tsh[n1], s_lo = tsl[n1];
                for (i = 0; i < VA; i++) {
                    ch[i] += u[i] * c_hi;
                    cl[i] += u[i] * c_lo;
                    sh[i] += u[i] * s_hi;
                    sl[i] += u[i] * s_lo;
                }
            }
            }
            for (i = 0; i < VA; i++) {
                /* int64: the spec's pass-A sums, < 2^62 in magnitude */
                const int64_t are = (int64_t)ch[i] * (1 << A_SPLIT) + (int64_t)cl[i];
                const int64_t aim = (int64_t)sh[i] * (1 << A_SPLIT) + (int64_t)sl[i]; /* = -sum u*S */
                const int64_t yre = (are + half) >> TWIDDLE_BITS; /* int64: |Y| < 2^35 + 2^14 */
                size_t o = ((size_t)(k1 / VB) * N2 + b + i) * VB + k1 % VB;
                split_store(yre, yrh + o, yrl + o);
                split_store((aim + half) >> TWIDDLE_BITS, yih + o, yil + o);
                if (mirror) { /* k1' = N1 - k1: conjugate sum, the imaginary part rounded on its own */
                    o = ((size_t)(km / VB) * N2 + b + i) * VB + km % VB;
                    split_store(yre, yrh + o, yrl + o);
                    split_store((half - aim) >> TWIDDLE_BITS, yih + o, yil + o);
                }
            }
        }
    }
}

/* --- §4 pass B: twiddle and length-N2 DFT over n2 -------------------------------------- */

/* X (int64) from the exact hi/lo partial sums: hi*2^16 + lo is the spec's pass-B sum (< 2^63). */
EMG_FE_ALWAYS_INLINE void pass_b_out(const double *rh, const double *rl, const double *ih, const double *il,
                                     int64_t *restrict xre, int64_t *restrict xim) {
    const int64_t half = (int64_t)1 << (TWIDDLE_BITS - 1);
    int i;
    for (i = 0; i < VB; i++) {
        const int64_t re = (int64_t)rh[i] * (1 << B_SPLIT) + (int64_t)rl[i];
        const int64_t im = (int64_t)ih[i] * (1 << B_SPLIT) + (int64_t)il[i];
        xre[i] = (re + half) >> TWIDDLE_BITS; /* int64: |X| < 2^35 + 2^14 */
        xim[i] = (im + half) >> TWIDDLE_BITS;
    }
}

/* Two VB-bin groups with the same k1 values (so the same Y) and twiddle tables t0, t1 (t1 may
 * be NULL: one group). Partial sums are exact: hi < 2^47, lo < 2^50 (header comment). Each
 * product is its own statement so that it becomes one FMA where the target has FMA. */
EMG_FE_ALWAYS_INLINE void pass_b_groups(int N2, const double *restrict yrh, const double *restrict yrl,
                                        const double *restrict yih, const double *restrict yil,
                                        const double *restrict t0, const double *restrict t1,
                                        int64_t *restrict xre0, int64_t *restrict xim0,
                                        int64_t *restrict xre1, int64_t *restrict xim1, const int vec) {
    double rh0[VB], rl0[VB], ih0[VB], il0[VB], rh1[VB], rl1[VB], ih1[VB], il1[VB];
    int n2, i;
    (void)vec;
#ifdef EMG_FE_VEC
    if (vec) {
    const v4d z = {0, 0, 0, 0};
    v4d Rh0 = z, Rl0 = z, Ih0 = z, Il0 = z, Rh1 = z, Rl1 = z, Ih1 = z, Il1 = z;
    if (t1) {
        for (n2 = 0; n2 < N2; n2++) {
            const v4d a = LD(yrh + n2 * VB), b = LD(yrl + n2 * VB), e = LD(yih + n2 * VB), f = LD(yil + n2 * VB);
            const v4d C0 = LD(t0 + n2 * 2 * VB), S0 = LD(t0 + n2 * 2 * VB + VB);
            const v4d C1 = LD(t1 + n2 * 2 * VB), S1 = LD(t1 + n2 * 2 * VB + VB);
            Rh0 += a * C0; Rh0 += e * S0;   /* X_re: Y_re*C + Y_im*S */
            Rl0 += b * C0; Rl0 += f * S0;
            Ih0 += e * C0; Ih0 -= a * S0;   /* X_im: Y_im*C - Y_re*S */
            Il0 += f * C0; Il0 -= b * S0;
            Rh1 += a * C1; Rh1 += e * S1;
            Rl1 += b * C1; Rl1 += f * S1;
            Ih1 += e * C1; Ih1 -= a * S1;
            Il1 += f * C1; Il1 -= b * S1;
        }
    } else {
        for (n2 = 0; n2 < N2; n2++) {
            const v4d a = LD(yrh + n2 * VB), b = LD(yrl + n2 * VB), e = LD(yih + n2 * VB), f = LD(yil + n2 * VB);
            const v4d C0 = LD(t0 + n2 * 2 * VB), S0 = LD(t0 + n2 * 2 * VB + VB);
            Rh0 += a * C0; Rh0 += e * S0;
            Rl0 += b * C0; Rl0 += f * S0;
            Ih0 += e * C0; Ih0 -= a * S0;
            Il0 += f * C0; Il0 -= b * S0;
        }
    }
    memcpy(rh0, &Rh0, 32); memcpy(rl0, &Rl0, 32); memcpy(ih0, &Ih0, 32); memcpy(il0, &Il0, 32);
    memcpy(rh1, &Rh1, 32); memcpy(rl1, &Rl1, 32); memcpy(ih1, &Ih1, 32); memcpy(il1, &Il1, 32);
    } else
#endif
    {
    for (i = 0; i < VB; i++) rh0[i] = rl0[i] = ih0[i] = il0[i] = rh1[i] = rl1[i] = ih1[i] = il1[i] = 0.0;
    for (n2 = 0; n2 < N2; n2++) {
        const double *a = yrh + n2 * VB, *b = yrl + n2 * VB, *e = yih + n2 * VB, *f = yil + n2 * VB;
        const double *C0 = t0 + n2 * 2 * VB, *S0 = C0 + VB;
        for (i = 0; i < VB; i++) {
            rh0[i] += a[i] * C0[i]; rh0[i] += e[i] * S0[i];
            rl0[i] += b[i] * C0[i]; rl0[i] += f[i] * S0[i];
            ih0[i] += e[i] * C0[i]; ih0[i] -= a[i] * S0[i];
            il0[i] += f[i] * C0[i]; il0[i] -= b[i] * S0[i];
        }
        if (t1) {
            const double *C1 = t1 + n2 * 2 * VB, *S1 = C1 + VB;
            for (i = 0; i < VB; i++) {
                rh1[i] += a[i] * C1[i]; rh1[i] += e[i] * S1[i];
                rl1[i] += b[i] * C1[i]; rl1[i] += f[i] * S1[i];
                ih1[i] += e[i] * C1[i]; ih1[i] -= a[i] * S1[i];
                il1[i] += f[i] * C1[i]; il1[i] -= b[i] * S1[i];
            }
        }
    }
    }
    pass_b_out(rh0, rl0, ih0, il0, xre0, xim0);
    if (t1) pass_b_out(rh1, rl1, ih1, il1, xre1, xim1);
}

/* --- one block of up to BLOCK frames --------------------------------------------------- */

/* pairs: run the two groups of a job together (16 accumulators: right for AVX2's 16 ymm and
 * NEON's 32 q registers; on SSE2's 16 xmm they would spill, so that path runs groups singly). */
EMG_FE_ALWAYS_INLINE void block_body(const emg_fe_plan *p, const int64_t *u, size_t u_stride, int n,
                                     int64_t *xre, int64_t *xim, size_t x_stride, const scratch *w,
                                     const int pairs, const int vec) {
    const emg_fe_dft *d = p->dft;
    const int N2 = p->N2, padded = p->n1c * p->N2;
    const size_t slice = (size_t)N2 * VB; /* Y of one k1 group */
    int j, i, m;
    for (i = 0; i < n; i++) {
        const size_t o = (size_t)i * w->y_n;
        const int64_t *ui = u + (size_t)i * u_stride;
        /* u as doubles, exact: |u| < 2^36 (padded is a multiple of 8) */
#ifdef EMG_FE_VEC
        if (vec)
            for (m = 0; m < padded; m += 4) *(v4d *)(void *)(w->ua + m) = I2D(*(const v4i *)(const void *)(ui + m));
        else
#endif
            for (m = 0; m < padded; m++) w->ua[m] = (double)ui[m];
        pass_a(p, w->ua, w->yrh + o, w->yrl + o, w->yih + o, w->yil + o, vec);
    }
    /* job outer, frame inner: each twiddle group is read once per block; jobs of one k1 group
     * follow each other, so its Y slices stay in L1 */
    for (j = 0; j < d->n_jobs; j++) {
        const int32_t *jb = d->job + 3 * j;
        const double *t0 = d->tab_b + (size_t)jb[1] * slice * 2;
        for (i = 0; i < n; i++) {
            const size_t o = (size_t)i * w->y_n + (size_t)jb[0] * slice;
            int64_t *xr = xre + (size_t)i * x_stride, *xi = xim + (size_t)i * x_stride;
            const int g1 = jb[2];
            const double *t1 = g1 >= 0 ? d->tab_b + (size_t)g1 * slice * 2 : NULL;
            if (pairs || g1 < 0) {
                pass_b_groups(N2, w->yrh + o, w->yrl + o, w->yih + o, w->yil + o, t0, t1, xr + d->xoff[jb[1]],
                              xi + d->xoff[jb[1]], xr + d->xoff[g1 >= 0 ? g1 : jb[1]], xi + d->xoff[g1 >= 0 ? g1 : jb[1]], vec);
            } else {
                pass_b_groups(N2, w->yrh + o, w->yrl + o, w->yih + o, w->yil + o, t0, NULL, xr + d->xoff[jb[1]],
                              xi + d->xoff[jb[1]], NULL, NULL, vec);
                pass_b_groups(N2, w->yrh + o, w->yrl + o, w->yih + o, w->yil + o, t1, NULL, xr + d->xoff[g1],
                              xi + d->xoff[g1], NULL, NULL, vec);
            }
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
#define GENERIC_PAIRS 0 /* SSE2: 16 xmm registers */
#else
#define GENERIC_PAIRS 1
#endif

static void block_generic(const emg_fe_plan *p, const int64_t *u, size_t u_stride, int n, int64_t *xre,
                          int64_t *xim, size_t x_stride, const scratch *w) {
    block_body(p, u, u_stride, n, xre, xim, x_stride, w, GENERIC_PAIRS, 0);
}

#ifdef EMG_FE_X86_DISPATCH
__attribute__((target("avx2,fma"))) static void block_avx2(const emg_fe_plan *p, const int64_t *u,
                                                           size_t u_stride, int n, int64_t *xre, int64_t *xim,
                                                           size_t x_stride, const scratch *w) {
    block_body(p, u, u_stride, n, xre, xim, x_stride, w, 1, 1);
}
#endif

/* --- the interface of emg_fe_internal.h ------------------------------------------------------ */

void emg_fe_dft_frames(const emg_fe_plan *p, const int64_t *u, size_t u_stride, int n, int64_t *xre,
                       int64_t *xim, size_t x_stride, void *scratch_mem) {
    const scratch w = scratch_layout(p, scratch_mem);
#ifdef EMG_FE_X86_DISPATCH
    if (p->dft->use_avx2) {
        block_avx2(p, u, u_stride, n, xre, xim, x_stride, &w);
        return;
    }
#endif
    block_generic(p, u, u_stride, n, xre, xim, x_stride, &w);
}

/* Does the group of bins N1*k2 + VB*c1 .. +VB-1 meet k_lo..k_hi? */
static int group_needed(const emg_fe_plan *p, int c1, int k2) {
    const int k = p->N1 * k2 + VB * c1;
    return k + VB - 1 >= p->k_lo && k <= p->k_hi;
}

/* X is stored from k_lo rounded down to a multiple of VB, in whole VB-bin groups, BLOCK frames
 * per call. The tables: split pass-A twiddles, per-group pass-B twiddles, jobs. */
int emg_fe_dft_plan(emg_fe_plan *p, const emg_fe_tables *t) {
    emg_fe_dft *d;
    int n1, k1, c1, k2, g, n2, i;
    p->kb = p->k_lo & ~(VB - 1);
    p->n_x = (p->k_hi - p->kb) / VB * VB + VB;
    p->block = BLOCK;
    p->dft_bytes = scratch_bytes(p);
    d = p->dft = (emg_fe_dft *)calloc(1, sizeof *d);
    if (!d) return EMG_FE_ENOMEM;
    for (c1 = 0; c1 < p->N1 / VB; c1++)
        for (k2 = p->k_lo / p->N1; k2 <= p->k_hi / p->N1; k2++) d->n_groups += group_needed(p, c1, k2);
    d->tab_a = (double *)malloc(sizeof(double) * 4 * (size_t)p->rows_a * p->n1c);
    d->tab_b = (double *)malloc(sizeof(double) * 2 * VB * (size_t)d->n_groups * p->N2);
    d->job = (int32_t *)malloc(sizeof(int32_t) * 3 * (size_t)d->n_groups);
    d->xoff = (int32_t *)malloc(sizeof(int32_t) * (size_t)d->n_groups);
    if (!d->tab_a || !d->tab_b || !d->job || !d->xoff) return EMG_FE_ENOMEM;
    /* pass A: Y_re uses C_j, Y_im uses -S_j, j = n1*k1*N2 mod N; split T = (T >> 13)*2^13 + (T & 8191) */
    for (k1 = 0; k1 < p->rows_a; k1++)
        for (n1 = 0; n1 < p->n1c; n1++) {
            const int64_t jj = ((int64_t)n1 * k1 * p->N2) % p->N;
            const int64_t cv = t->cos_q26[jj], sv = -t->sin_q26[jj];
            double *e = d->tab_a + (size_t)k1 * 4 * p->n1c + n1;
            e[0] = (double)(cv >> A_SPLIT);
            e[p->n1c] = (double)(cv & ((1 << A_SPLIT) - 1));
            e[2 * p->n1c] = (double)(sv >> A_SPLIT);
            e[3 * p->n1c] = (double)(sv & ((1 << A_SPLIT) - 1));
        }
    /* pass B: groups in order of c1 (the Y slice they read), paired into jobs; each group's
     * table holds C_j, S_j with j = n2*k mod N for its bins k */
    for (g = 0, c1 = 0; c1 < p->N1 / VB; c1++)
        for (k2 = p->k_lo / p->N1; k2 <= p->k_hi / p->N1; k2++) {
            const int k0 = p->N1 * k2 + VB * c1;
            if (!group_needed(p, c1, k2)) continue;
            if (d->n_jobs > 0 && d->job[3 * (d->n_jobs - 1)] == c1 && d->job[3 * (d->n_jobs - 1) + 2] < 0) {
                d->job[3 * (d->n_jobs - 1) + 2] = g;
            } else {
                d->job[3 * d->n_jobs] = c1;
                d->job[3 * d->n_jobs + 1] = g;
                d->job[3 * d->n_jobs + 2] = -1;
                d->n_jobs++;
            }
            d->xoff[g] = k0 - p->kb;
            for (n2 = 0; n2 < p->N2; n2++)
                for (i = 0; i < VB; i++) {
                    const int64_t jj = ((int64_t)n2 * (k0 + i)) % p->N;
                    double *e = d->tab_b + ((size_t)g * p->N2 + n2) * 2 * VB;
                    e[i] = (double)t->cos_q26[jj];
                    e[VB + i] = (double)t->sin_q26[jj];
                }
            g++;
        }
#ifdef EMG_FE_X86_DISPATCH
    __builtin_cpu_init();
    d->use_avx2 = !(t->flags & EMG_FE_FLAG_GENERIC) && __builtin_cpu_supports("avx2") &&
                  __builtin_cpu_supports("fma");
#endif
    return EMG_FE_OK;
}

void emg_fe_dft_free(emg_fe_dft *d) {
    if (!d) return;
    free(d->tab_a);
    free(d->tab_b);
    free(d->job);
    free(d->xoff);
    free(d);
}

const char *emg_fe_isa(const emg_fe_plan *p) { return p->dft->use_avx2 ? "avx2+fma" : "generic"; }
