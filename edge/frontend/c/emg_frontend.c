/* Integer log-Mel front-end, compiled kernel: see emg_frontend.h and edge/FRONTEND.md.
 *
 * The stages follow the spec's sections; each integer step names its width. The only
 * floating-point arithmetic is in the DFT (§4), and there it is an exact evaluation of the
 * spec's int64 sums:
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
 *   rounded as the spec says. The numpy fast path (DftPlan.dft) uses the same argument.
 *
 * Layout: pass A vectorises over 8 consecutive n2 (one sample row of u), pass B over 4
 * consecutive bins (same k2, consecutive k1), so every inner loop reads contiguous memory; Y is
 * stored as [k1/4][n2][4] so that the 4-bin groups of one k1 quadruple reuse an 8 KB slice from
 * L1, and pass B runs two groups (two k2) per load of Y. On x86-64 with GCC-compatible compilers
 * the block routine is compiled twice, portable and AVX2+FMA (chosen at plan creation with
 * __builtin_cpu_supports), so one binary runs on any x86-64 CPU. Elsewhere (aarch64: NEON
 * doubles) the portable code is used. Measured on the 44.1 kHz / 1103 / 2048 / 64-band config
 * (Zen 4): ~19 us per frame with AVX2+FMA, of which pass B ~10, pass A ~6.
 *
 * EMG_FE_DFT_INT64 (compile-time option, for CPUs without a double-precision FPU such as
 * Cortex-M4F/M33): the DFT is the plain int64 computation of §4 instead, as
 * DftPlan.dft_int64 in edge/frontend/fft.py writes it, and no floating-point type occurs in the
 * translation unit at all (the float64 code below is compiled out). Pass A sums are < 2^62,
 * pass B sums < 2^63 (§9), so int64 accumulators hold them in any order. One frame at a time
 * and one column k1 at a time: pass A forms Y[., k1] (N2 values; with symmetric twiddles also
 * Y[., N1 - k1]), pass B then forms every needed bin k with k mod N1 = k1 from it, so Y never
 * exists as a whole. The plan keeps the input C/S tables as int32 (|C|, |S| <= 2^26) and indexes
 * them with j mod N, instead of the float path's per-bin tables; see emg_frontend.h for sizes.
 */
#include "emg_frontend.h"

#include <stdlib.h>
#include <string.h>

/* --- compile-time checks of the integer assumptions (a negative array size fails the build) */
/* `>>` of a negative int64_t must be an arithmetic shift (floor division by 2^k). */
typedef char emg_fe_check_arithmetic_shift[(((int64_t)-5) >> 1) == -3 ? 1 : -1];
/* int64_t is two's complement (C99 7.18.1.1), so `& 65535` gives the floor residue. */
typedef char emg_fe_check_twos_complement[(((int64_t)-5) & 7) == 3 ? 1 : -1];
#ifndef EMG_FE_DFT_INT64
typedef char emg_fe_check_double[sizeof(double) == 8 ? 1 : -1];
#endif

#if defined(__GNUC__)
#define EMG_FE_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define EMG_FE_ALWAYS_INLINE static inline
#endif

#if defined(__GNUC__) && defined(__x86_64__) && !defined(EMG_FE_DFT_INT64)
#define EMG_FE_X86_DISPATCH 1
#endif

/* In the AVX2+FMA variant the two DFT loops use GCC/Clang vector extensions (4 doubles = one
 * ymm register), so that the accumulators stay in registers whatever the auto-vectoriser
 * decides. The portable variant uses plain loops (same results; gcc's lowering of 4-double
 * vectors to SSE2 goes through memory and is slower than its own vectorisation of the loops). */
#if defined(__GNUC__) && !defined(EMG_FE_NO_VECTOR_EXT) && !defined(EMG_FE_DFT_INT64)
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

#define TARGET_BITS 35      /* §3: sum of |u| is normalised to 35 bits */
#define TWIDDLE_BITS 26     /* §4: Q26 twiddles */
#define POWER_INPUT_BITS 30 /* §5 */
#define A_SPLIT 13          /* pass-A twiddle split */
#define B_SPLIT 16          /* pass-B data split */
#define VA 8                /* pass A: n2 values per inner loop (accumulators stay in registers) */
#define VB 4                /* pass B: bins per group (consecutive k1, one k2) */
#define BLOCK 4             /* frames per block: pass B reads each table group once per block */

struct emg_fe_plan {
    int32_t L, N, N1, N2, n1c, k_lo, k_hi, M, max_power_bits;
    int32_t rows_a;        /* k1 rows multiplied out in pass A: N1/2+1 if symmetric, else N1 */
    int32_t symmetric;     /* the twiddles satisfy C[N-j] = C[j], S[N-j] = -S[j] */
    int32_t kb;            /* X is stored from bin kb: k_lo rounded down to a multiple of VB (int64: k_lo) */
    int32_t n_x;           /* X slots: bins kb..kb+n_x-1 */
#ifdef EMG_FE_DFT_INT64
    int32_t *window;       /* [L] Q30, 0..2^30 (int32) */
    int32_t *cos_q26;      /* [N] C_j, |C_j| <= 2^26 (int32; widened to int64 in every product) */
    int32_t *sin_q26;      /* [N] S_j */
#else
    int32_t n_groups;      /* VB-bin groups (k = N1*k2 + VB*c1 + i) that meet k_lo..k_hi */
    int32_t n_jobs;        /* pass-B jobs: one or two groups of the same c1 */
    int32_t use_avx2;
    int32_t *window;       /* [L] Q30, 0..2^30 (int32) */
    double *tab_a;         /* [rows_a][4][n1c]: C_hi, C_lo, (-S)_hi, (-S)_lo of j = n1*k1*N2 mod N */
    double *tab_b;         /* [n_groups][N2][2*VB]: C, S of j = n2*k mod N (27 bits, exact) */
    int32_t *job;          /* [n_jobs][3]: c1, group g0, group g1 (-1: none) */
    int32_t *xoff;         /* [n_groups]: X slot of the group's first bin */
#endif
    int32_t *w;            /* [nnz] Q16 weights (17 bits) */
    int32_t *wbin;         /* [nnz] bin index k - k_lo */
    int32_t *bstart;       /* [M+1] band m uses weights bstart[m]..bstart[m+1]-1 */
    int64_t log2t[257];    /* Q16, 0..65536 */
    int64_t db_coeff;
    size_t ws_bytes;
};

/* --- integer helpers (§2) --------------------------------------------------------------- */

/* Number of significant bits of a >= 0 (0 for 0). */
EMG_FE_ALWAYS_INLINE int bitlen64(int64_t a) {
#if defined(__GNUC__)
    return a ? 64 - __builtin_clzll((unsigned long long)a) : 0;
#else
    int n = 0;
    uint64_t v = (uint64_t)a;
    while (v) { n++; v >>= 1; }
    return n;
#endif
}

/* rshift(a, k) of §2: k > 0 rounds half up, floor((a + 2^(k-1)) / 2^k); k <= 0 is a * 2^-k
 * (a multiplication: `<<` of a negative value is undefined in C99). Callers keep the result
 * and a + 2^(k-1) inside int64 (the spec's bounds). */
EMG_FE_ALWAYS_INLINE int64_t rshift(int64_t a, int k) {
    return k > 0 ? (a + ((int64_t)1 << (k - 1))) >> k : a * ((int64_t)1 << -k);
}

EMG_FE_ALWAYS_INLINE int64_t abs64(int64_t a) { return a < 0 ? -a : a; }

#ifndef EMG_FE_DFT_INT64 /* the float64 DFT (default): workspace, §3 and §4 for blocks of frames */

/* --- workspace ------------------------------------------------------------------------- */

typedef struct {
    double *ua;                    /* [BLOCK][n1c*N2]: u zero-padded; row n1 = samples N2*n1.. */
    double *yrh, *yrl, *yih, *yil; /* [BLOCK][N1/VB][N2][VB]: split Y_re, Y_im (pass A output) */
    int64_t *xre, *xim;            /* [BLOCK][n_x]: X of bins kb.. */
    int64_t *pw;                   /* [k_hi-k_lo+1]: P, then P' */
    size_t ua_n, y_n, x_n;         /* per-frame strides (8-byte units, multiples of 64 bytes) */
} workspace;

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; } /* 8-byte units -> 64 bytes */

static workspace ws_layout(const emg_fe_plan *p, void *mem) {
    workspace w;
    double *d = (double *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    w.ua_n = align8((size_t)p->n1c * p->N2);
    w.y_n = align8((size_t)p->N);
    w.x_n = align8((size_t)p->n_x);
    w.ua = d;  d += BLOCK * w.ua_n;
    w.yrh = d; d += BLOCK * w.y_n;
    w.yrl = d; d += BLOCK * w.y_n;
    w.yih = d; d += BLOCK * w.y_n;
    w.yil = d; d += BLOCK * w.y_n;
    w.xre = (int64_t *)d; d += BLOCK * w.x_n;
    w.xim = (int64_t *)d; d += BLOCK * w.x_n;
    w.pw = (int64_t *)d;  d += align8((size_t)(p->k_hi - p->k_lo + 1));
    return w;
}

static size_t ws_bytes(const emg_fe_plan *p) {
    const size_t doubles = BLOCK * (align8((size_t)p->n1c * p->N2) + 4 * align8((size_t)p->N) +
                                    2 * align8((size_t)p->n_x)) + align8((size_t)(p->k_hi - p->k_lo + 1));
    return 8 * doubles + 64; /* + room to align the start to 64 bytes */
}

/* --- §3 window and block normalisation --------------------------------------------------- */

/* Writes u (as exact doubles, zero-padded to n1c*N2) and returns s; S = 0 sets *silent (all
 * features of the frame are then 0). */
EMG_FE_ALWAYS_INLINE int window_frame(const emg_fe_plan *p, const int16_t *restrict x, double *restrict ua,
                                      int *silent) {
    const int32_t *restrict win = p->window;
    const int L = p->L, padded = p->n1c * p->N2;
    int64_t S = 0; /* int64: sum of |x*W| <= 2^14 * 2^15 * 2^30 < 2^59 */
    int n, s;
    for (n = 0; n < L; n++) S += abs64((int64_t)x[n] * win[n]); /* int64: |x*W| <= 2^45 */
    *silent = S == 0;
    s = TARGET_BITS - bitlen64(S);
    if (s >= 0) {
        /* u = v * 2^s: |u| < 2^36 (sum |u| < 2^35 + L/2), so the double product is exact */
        const double scale = (double)((int64_t)1 << s);
        for (n = 0; n < L; n++) ua[n] = (double)((int64_t)x[n] * win[n]) * scale;
    } else {
        const int k = -s; /* 1..24 */
        const int64_t half = (int64_t)1 << (k - 1);
        for (n = 0; n < L; n++) ua[n] = (double)(((int64_t)x[n] * win[n] + half) >> k); /* int64 */
    }
    for (n = L; n < padded; n++) ua[n] = 0.0;
    return s;
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
        const double *restrict tch = p->tab_a + (size_t)k1 * 4 * n1c, *restrict tcl = tch + n1c;
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

#endif /* !EMG_FE_DFT_INT64 */

/* --- §5 power, §6 filterbank, §7 log --------------------------------------------------- */

EMG_FE_ALWAYS_INLINE void features(const emg_fe_plan *p, int s, const int64_t *restrict xre,
                                   const int64_t *restrict xim, int64_t *restrict pw, int16_t *restrict out) {
    const int K = p->k_hi - p->k_lo + 1, off = p->k_lo - p->kb;
    int64_t m = 0, pmax = 0; /* int64: max |X| < 2^35 + 2^14; max P <= 2^61 */
    int k, r, e, band;
    for (k = 0; k < K; k++) {
        const int64_t a = abs64(xre[off + k]), b = abs64(xim[off + k]);
        m = a > m ? a : m;
        m = b > m ? b : m;
    }
    r = bitlen64(m) - POWER_INPUT_BITS;
    r = r > 0 ? r : 0;
    for (k = 0; k < K; k++) {
        const int64_t a = rshift(xre[off + k], r), b = rshift(xim[off + k], r); /* int64: |X'| <= 2^30 */
        const int64_t pk = a * a + b * b;                                       /* int64: P <= 2^61 */
        pw[k] = pk;
        pmax = pk > pmax ? pk : pmax;
    }
    e = bitlen64(pmax) - p->max_power_bits;
    e = e > 0 ? e : 0;
    if (e > 0)
        for (k = 0; k < K; k++) pw[k] = rshift(pw[k], e); /* int64: P' <= 2^(62-G) */
    {
        /* §7: X_exp = 16 + 60 + 2s - 2r - e (|X_exp| < 200) */
        const int64_t xexp = 16 + 60 + 2 * (int64_t)s - 2 * (int64_t)r - e;
        for (band = 0; band < p->M; band++) {
            int64_t E = 0; /* int64: sum W*P' < 2^62 */
            int j, bt;
            int64_t t, q, l2, ell, y;
            for (j = p->bstart[band]; j < p->bstart[band + 1]; j++) E += (int64_t)p->w[j] * pw[p->wbin[j]];
            if (E == 0) { out[band] = 0; continue; }                      /* the 0 dB floor */
            bt = bitlen64(E) - 1;                                         /* b = 0..61 */
            t = bt <= 30 ? E << (30 - bt) : E >> (bt - 30);               /* int64: 2^30 <= t < 2^31 */
            j = (int)(t >> 22) - 256;                                     /* 0..255 */
            q = t & ((1 << 22) - 1);                                      /* 22 bits */
            l2 = (int64_t)bt * 65536 + p->log2t[j]
                 + (((p->log2t[j + 1] - p->log2t[j]) * q + (1 << 21)) >> 22); /* int64: < 2^22 */
            ell = l2 - xexp * 65536;                                      /* int64: |ell| < 2^24 */
            y = (ell * p->db_coeff + ((int64_t)1 << 31)) >> 32;           /* int64: |ell*K| < 2^48 */
            out[band] = (int16_t)(y < 0 ? 0 : y > 32767 ? 32767 : y);
        }
    }
}

#ifdef EMG_FE_DFT_INT64 /* the plain int64 DFT: workspace, §3 and §4 one frame at a time */

/* --- workspace --------------------------------------------------------------------------- */

typedef struct {
    int64_t *u;         /* [n1c*N2]: u of §3 zero-padded; row n1 = samples N2*n1 .. N2*n1+N2-1 */
    int64_t *yre, *yim; /* [N2]: column k1 of Y (pass A output) */
    int64_t *yim_m;     /* [N2]: Y_im of column N1 - k1 (symmetric twiddles; its Y_re is yre) */
    int64_t *xre, *xim; /* [n_x]: X of bins k_lo..k_hi */
    int64_t *pw;        /* [k_hi-k_lo+1]: P, then P' */
} workspace;

static workspace ws_layout(const emg_fe_plan *p, void *mem) {
    workspace w;
    int64_t *d = (int64_t *)(((uintptr_t)mem + 7) & ~(uintptr_t)7);
    w.u = d;     d += (size_t)p->n1c * p->N2;
    w.yre = d;   d += p->N2;
    w.yim = d;   d += p->N2;
    w.yim_m = d; d += p->N2;
    w.xre = d;   d += p->n_x;
    w.xim = d;   d += p->n_x;
    w.pw = d;
    return w;
}

static size_t ws_bytes(const emg_fe_plan *p) {
    const size_t n = (size_t)p->n1c * p->N2 + 3 * (size_t)p->N2 + 2 * (size_t)p->n_x +
                     (size_t)(p->k_hi - p->k_lo + 1);
    return 8 * n + 7; /* + room to align the start to 8 bytes */
}

/* --- §3 window and block normalisation --------------------------------------------------- */

/* Writes u (zero-padded to n1c*N2) and returns s; S = 0 sets *silent (all features 0, u unset). */
static int window_frame(const emg_fe_plan *p, const int16_t *x, int64_t *u, int *silent) {
    const int L = p->L, padded = p->n1c * p->N2;
    int64_t S = 0; /* int64: sum of |x*W| <= 2^14 * 2^15 * 2^30 < 2^59 */
    int n, s;
    for (n = 0; n < L; n++) S += abs64((int64_t)x[n] * p->window[n]); /* int64: |x*W| <= 2^45 */
    *silent = S == 0;
    if (*silent) return 0;
    s = TARGET_BITS - bitlen64(S); /* -24..34 */
    for (n = 0; n < L; n++) u[n] = rshift((int64_t)x[n] * p->window[n], -s); /* int64: |u| < 2^36 */
    for (n = L; n < padded; n++) u[n] = 0;
    return s;
}

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
        const int64_t c = p->cos_q26[j], ms = -(int64_t)p->sin_q26[j]; /* int64: |C|, |S| <= 2^26 */
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
            const int64_t c = p->cos_q26[j], s = p->sin_q26[j]; /* int64: |C|, |S| <= 2^26 */
            re += yre[n2] * c + yim[n2] * s;
            im += yim[n2] * c - yre[n2] * s;
        }
        xre[k - p->kb] = rshift(re, TWIDDLE_BITS); /* int64: |X| < 2^35 + 2^14 */
        xim[k - p->kb] = rshift(im, TWIDDLE_BITS);
    }
}

/* --- one frame --------------------------------------------------------------------------- */

/* §4 of the frame in w->u: X of the bins k_lo..k_hi in w->xre, w->xim, column k1 by column. */
static void dft_int64(const emg_fe_plan *p, const workspace *w) {
    int k1;
    for (k1 = 0; k1 < p->rows_a; k1++) {
        const int mirror = p->symmetric && k1 > 0 && 2 * k1 < p->N1; /* also column N1 - k1 */
        pass_a_int64(p, w->u, k1, w->yre, w->yim, mirror ? w->yim_m : NULL);
        pass_b_int64(p, w->yre, w->yim, k1, w->xre, w->xim);
        if (mirror) pass_b_int64(p, w->yre, w->yim_m, p->N1 - k1, w->xre, w->xim);
    }
}

static void frame_int64(const emg_fe_plan *p, const int16_t *x, int16_t *out, const workspace *w) {
    int silent;
    const int s = window_frame(p, x, w->u, &silent);
    if (silent) { /* §3: S = 0 gives 0 */
        memset(out, 0, sizeof(int16_t) * (size_t)p->M);
        return;
    }
    dft_int64(p, w);
    features(p, s, w->xre, w->xim, w->pw, out);
}

void emg_fe_compute(const emg_fe_plan *p, const int16_t *samples, ptrdiff_t frame_stride, size_t n_frames,
                    int16_t *out, void *workspace_mem) {
    const workspace w = ws_layout(p, workspace_mem);
    size_t f;
    for (f = 0; f < n_frames; f++)
        frame_int64(p, samples + frame_stride * (ptrdiff_t)f, out + f * (size_t)p->M, &w);
}

#else /* the float64 DFT */

/* --- one block of up to BLOCK frames --------------------------------------------------- */

/* pairs: run the two groups of a job together (16 accumulators: right for AVX2's 16 ymm and
 * NEON's 32 q registers; on SSE2's 16 xmm they would spill, so that path runs groups singly). */
EMG_FE_ALWAYS_INLINE void block_body(const emg_fe_plan *p, const int16_t *x, ptrdiff_t stride, int nf,
                                     int16_t *out, const workspace *w, const int pairs, const int vec) {
    const int N2 = p->N2;
    const size_t slice = (size_t)N2 * VB; /* Y of one k1 group */
    int s[BLOCK], silent[BLOCK], live[BLOCK], n_live = 0, f, j, i;
    for (f = 0; f < nf; f++) {
        const size_t o = (size_t)n_live * w->y_n;
        s[f] = window_frame(p, x + stride * f, w->ua + n_live * w->ua_n, &silent[f]);
        if (silent[f]) continue;
        pass_a(p, w->ua + n_live * w->ua_n, w->yrh + o, w->yrl + o, w->yih + o, w->yil + o, vec);
        live[n_live++] = f;
    }
    /* job outer, frame inner: each twiddle group is read once per block; jobs of one k1 group
     * follow each other, so its Y slices stay in L1 */
    for (j = 0; j < p->n_jobs; j++) {
        const int32_t *jb = p->job + 3 * j;
        const double *t0 = p->tab_b + (size_t)jb[1] * slice * 2;
        for (i = 0; i < n_live; i++) {
            const size_t o = (size_t)i * w->y_n + (size_t)jb[0] * slice;
            int64_t *xr = w->xre + i * w->x_n, *xi = w->xim + i * w->x_n;
            const int g1 = jb[2];
            const double *t1 = g1 >= 0 ? p->tab_b + (size_t)g1 * slice * 2 : NULL;
            if (pairs || g1 < 0) {
                pass_b_groups(N2, w->yrh + o, w->yrl + o, w->yih + o, w->yil + o, t0, t1, xr + p->xoff[jb[1]],
                              xi + p->xoff[jb[1]], xr + p->xoff[g1 >= 0 ? g1 : jb[1]], xi + p->xoff[g1 >= 0 ? g1 : jb[1]], vec);
            } else {
                pass_b_groups(N2, w->yrh + o, w->yrl + o, w->yih + o, w->yil + o, t0, NULL, xr + p->xoff[jb[1]],
                              xi + p->xoff[jb[1]], NULL, NULL, vec);
                pass_b_groups(N2, w->yrh + o, w->yrl + o, w->yih + o, w->yil + o, t1, NULL, xr + p->xoff[g1],
                              xi + p->xoff[g1], NULL, NULL, vec);
            }
        }
    }
    for (i = 0; i < n_live; i++)
        features(p, s[live[i]], w->xre + i * w->x_n, w->xim + i * w->x_n, w->pw, out + (size_t)live[i] * p->M);
    for (f = 0; f < nf; f++)
        if (silent[f]) memset(out + (size_t)f * p->M, 0, sizeof(int16_t) * (size_t)p->M); /* §3: S = 0 gives 0 */
}

#if defined(__x86_64__) || defined(__i386__)
#define GENERIC_PAIRS 0 /* SSE2: 16 xmm registers */
#else
#define GENERIC_PAIRS 1
#endif

static void block_generic(const emg_fe_plan *p, const int16_t *x, ptrdiff_t stride, int nf, int16_t *out,
                          const workspace *w) {
    block_body(p, x, stride, nf, out, w, GENERIC_PAIRS, 0);
}

#ifdef EMG_FE_X86_DISPATCH
__attribute__((target("avx2,fma"))) static void block_avx2(const emg_fe_plan *p, const int16_t *x,
                                                           ptrdiff_t stride, int nf, int16_t *out,
                                                           const workspace *w) {
    block_body(p, x, stride, nf, out, w, 1, 1);
}
#endif

void emg_fe_compute(const emg_fe_plan *p, const int16_t *samples, ptrdiff_t frame_stride, size_t n_frames,
                    int16_t *out, void *workspace_mem) {
    const workspace w = ws_layout(p, workspace_mem);
    size_t f;
    for (f = 0; f < n_frames; f += BLOCK) {
        const int nf = n_frames - f < BLOCK ? (int)(n_frames - f) : BLOCK;
        const int16_t *x = samples + frame_stride * (ptrdiff_t)f;
#ifdef EMG_FE_X86_DISPATCH
        if (p->use_avx2) { block_avx2(p, x, frame_stride, nf, out + f * p->M, &w); continue; }
#endif
        block_generic(p, x, frame_stride, nf, out + f * p->M, &w);
    }
}

#endif /* EMG_FE_DFT_INT64 */

/* --- plan ------------------------------------------------------------------------------- */

void emg_fe_plan_free(emg_fe_plan *p) {
    if (!p) return;
    free(p->window);
#ifdef EMG_FE_DFT_INT64
    free(p->cos_q26);
    free(p->sin_q26);
#else
    free(p->tab_a);
    free(p->tab_b);
    free(p->job);
    free(p->xoff);
#endif
    free(p->w);
    free(p->wbin);
    free(p->bstart);
    free(p);
}

size_t emg_fe_workspace_size(const emg_fe_plan *p) { return p->ws_bytes; }
int32_t emg_fe_n_mels(const emg_fe_plan *p) { return p->M; }
int32_t emg_fe_frame_length(const emg_fe_plan *p) { return p->L; }
#ifdef EMG_FE_DFT_INT64
const char *emg_fe_isa(const emg_fe_plan *p) { (void)p; return "int64"; }
#else
const char *emg_fe_isa(const emg_fe_plan *p) { return p->use_avx2 ? "avx2+fma" : "generic"; }
#endif

#ifdef EMG_FE_DFT_INT64

/* X slots are the bins k_lo..k_hi themselves. */
static void plan_x_slots(emg_fe_plan *p) {
    p->kb = p->k_lo;
    p->n_x = p->k_hi - p->k_lo + 1;
}

/* The DFT tables of the int64 variant: C and S as they are (Q26, 27 bits: int32), 8*N bytes. */
static int plan_dft_tables(emg_fe_plan *p, const emg_fe_tables *t) {
    int j;
    p->cos_q26 = (int32_t *)malloc(sizeof(int32_t) * (size_t)p->N);
    p->sin_q26 = (int32_t *)malloc(sizeof(int32_t) * (size_t)p->N);
    if (!p->cos_q26 || !p->sin_q26) return EMG_FE_ENOMEM;
    for (j = 0; j < p->N; j++) {
        p->cos_q26[j] = (int32_t)t->cos_q26[j]; /* |C_j|, |S_j| <= 2^26, checked by the caller */
        p->sin_q26[j] = (int32_t)t->sin_q26[j];
    }
    return EMG_FE_OK;
}

#else

/* X is stored from k_lo rounded down to a multiple of VB, in whole VB-bin groups. */
static void plan_x_slots(emg_fe_plan *p) {
    p->kb = p->k_lo & ~(VB - 1);
    p->n_x = (p->k_hi - p->kb) / VB * VB + VB;
}

/* Does the group of bins N1*k2 + VB*c1 .. +VB-1 meet k_lo..k_hi? */
static int group_needed(const emg_fe_plan *p, int c1, int k2) {
    const int k = p->N1 * k2 + VB * c1;
    return k + VB - 1 >= p->k_lo && k <= p->k_hi;
}

/* The DFT tables of the float64 variant: split pass-A twiddles, per-group pass-B twiddles, jobs. */
static int plan_dft_tables(emg_fe_plan *p, const emg_fe_tables *t) {
    int n1, k1, c1, k2, g, n2, i;
    for (c1 = 0; c1 < p->N1 / VB; c1++)
        for (k2 = p->k_lo / p->N1; k2 <= p->k_hi / p->N1; k2++) p->n_groups += group_needed(p, c1, k2);
    p->tab_a = (double *)malloc(sizeof(double) * 4 * (size_t)p->rows_a * p->n1c);
    p->tab_b = (double *)malloc(sizeof(double) * 2 * VB * (size_t)p->n_groups * p->N2);
    p->job = (int32_t *)malloc(sizeof(int32_t) * 3 * (size_t)p->n_groups);
    p->xoff = (int32_t *)malloc(sizeof(int32_t) * (size_t)p->n_groups);
    if (!p->tab_a || !p->tab_b || !p->job || !p->xoff) return EMG_FE_ENOMEM;
    /* pass A: Y_re uses C_j, Y_im uses -S_j, j = n1*k1*N2 mod N; split T = (T >> 13)*2^13 + (T & 8191) */
    for (k1 = 0; k1 < p->rows_a; k1++)
        for (n1 = 0; n1 < p->n1c; n1++) {
            const int64_t jj = ((int64_t)n1 * k1 * p->N2) % p->N;
            const int64_t cv = t->cos_q26[jj], sv = -t->sin_q26[jj];
            double *d = p->tab_a + (size_t)k1 * 4 * p->n1c + n1;
            d[0] = (double)(cv >> A_SPLIT);
            d[p->n1c] = (double)(cv & ((1 << A_SPLIT) - 1));
            d[2 * p->n1c] = (double)(sv >> A_SPLIT);
            d[3 * p->n1c] = (double)(sv & ((1 << A_SPLIT) - 1));
        }
    /* pass B: groups in order of c1 (the Y slice they read), paired into jobs; each group's
     * table holds C_j, S_j with j = n2*k mod N for its bins k */
    for (g = 0, c1 = 0; c1 < p->N1 / VB; c1++)
        for (k2 = p->k_lo / p->N1; k2 <= p->k_hi / p->N1; k2++) {
            const int k0 = p->N1 * k2 + VB * c1;
            if (!group_needed(p, c1, k2)) continue;
            if (p->n_jobs > 0 && p->job[3 * (p->n_jobs - 1)] == c1 && p->job[3 * (p->n_jobs - 1) + 2] < 0) {
                p->job[3 * (p->n_jobs - 1) + 2] = g;
            } else {
                p->job[3 * p->n_jobs] = c1;
                p->job[3 * p->n_jobs + 1] = g;
                p->job[3 * p->n_jobs + 2] = -1;
                p->n_jobs++;
            }
            p->xoff[g] = k0 - p->kb;
            for (n2 = 0; n2 < p->N2; n2++)
                for (i = 0; i < VB; i++) {
                    const int64_t jj = ((int64_t)n2 * (k0 + i)) % p->N;
                    double *d = p->tab_b + ((size_t)g * p->N2 + n2) * 2 * VB;
                    d[i] = (double)t->cos_q26[jj];
                    d[VB + i] = (double)t->sin_q26[jj];
                }
            g++;
        }
#ifdef EMG_FE_X86_DISPATCH
    __builtin_cpu_init();
    p->use_avx2 = !(t->flags & EMG_FE_FLAG_GENERIC) && __builtin_cpu_supports("avx2") &&
                  __builtin_cpu_supports("fma");
#endif
    return EMG_FE_OK;
}

#endif /* EMG_FE_DFT_INT64 */

/* Allocates with malloc (plan and tables; emg_fe_plan_free releases them). */
int emg_fe_plan_create(const emg_fe_tables *t, emg_fe_plan **out) {
    emg_fe_plan *p;
    int log2n, j, k, m;
    const int64_t one26 = (int64_t)1 << TWIDDLE_BITS;
    int64_t sum;
    *out = NULL;
    /* sizes (§1): the bounds of §9 need L <= 2^14 and N a power of two >= 64 */
    if (!t || t->frame_length < 64 || t->frame_length > 16384 || t->fft_size < t->frame_length ||
        t->fft_size > 16384 || (t->fft_size & (t->fft_size - 1)) || t->k_lo < 0 || t->k_hi < t->k_lo ||
        t->k_hi > t->fft_size / 2 || t->n_mels < 1 || t->n_weights < t->n_mels ||
        t->max_power_bits < 1 || t->max_power_bits > 61 || !t->window || !t->cos_q26 || !t->sin_q26 ||
        !t->weight || !t->weight_bin || !t->band_start || !t->log2_table)
        return EMG_FE_EINVAL;
    p = (emg_fe_plan *)calloc(1, sizeof *p);
    if (!p) return EMG_FE_ENOMEM;
    p->L = t->frame_length;
    p->N = t->fft_size;
    for (log2n = 0; (1 << log2n) < p->N; log2n++) {}
    p->N2 = 1 << ((log2n + 1) / 2); /* N >= 64: N2 >= 8, N1 >= 8, both multiples of VA and VB */
    p->N1 = p->N / p->N2;
    p->n1c = (p->L + p->N2 - 1) / p->N2;
    p->k_lo = t->k_lo;
    p->k_hi = t->k_hi;
    p->M = t->n_mels;
    p->max_power_bits = t->max_power_bits;
    p->db_coeff = t->db_coeff;
    plan_x_slots(p);

    /* tables: check the ranges the bounds of §9 rely on */
    for (j = 0; j < p->N; j++)
        if (t->cos_q26[j] < -one26 || t->cos_q26[j] > one26 || t->sin_q26[j] < -one26 || t->sin_q26[j] > one26)
            goto invalid;
    for (j = 0; j <= 256; j++) {
        if (t->log2_table[j] < 0 || t->log2_table[j] > 65536 || (j && t->log2_table[j] < t->log2_table[j - 1]))
            goto invalid;
        p->log2t[j] = t->log2_table[j];
    }
    if (t->db_coeff < 0 || t->db_coeff >= ((int64_t)1 << 24)) goto invalid;
    for (j = 0; j < p->L; j++)
        if (t->window[j] < 0 || t->window[j] > ((int64_t)1 << 30)) goto invalid;
    for (m = 0; m < p->M; m++) {
        const int64_t b0 = t->band_start[m], b1 = m + 1 < p->M ? t->band_start[m + 1] : t->n_weights;
        if (b0 < 0 || b1 < b0 || b1 > t->n_weights || (m == 0 && b0 != 0)) goto invalid;
        /* weights 0..65536 on bins k_lo..k_hi; every band sum < 2^(62 - max_power_bits) so E < 2^62 */
        for (sum = 0, k = (int)b0; k < b1; k++) {
            if (t->weight[k] < 0 || t->weight[k] > 65536 || t->weight_bin[k] < 0 ||
                t->weight_bin[k] > p->k_hi - p->k_lo)
                goto invalid;
            sum += t->weight[k];
        }
        if (sum >= ((int64_t)1 << (62 - p->max_power_bits))) goto invalid;
    }
    p->symmetric = 1;
    for (j = 1; j < p->N; j++)
        if (t->cos_q26[p->N - j] != t->cos_q26[j] || t->sin_q26[p->N - j] != -t->sin_q26[j]) p->symmetric = 0;
    p->rows_a = p->symmetric ? p->N1 / 2 + 1 : p->N1;

    p->window = (int32_t *)malloc(sizeof(int32_t) * (size_t)p->L);
    p->w = (int32_t *)malloc(sizeof(int32_t) * (size_t)t->n_weights);
    p->wbin = (int32_t *)malloc(sizeof(int32_t) * (size_t)t->n_weights);
    p->bstart = (int32_t *)malloc(sizeof(int32_t) * ((size_t)p->M + 1));
    if (!p->window || !p->w || !p->wbin || !p->bstart || plan_dft_tables(p, t) != EMG_FE_OK) {
        emg_fe_plan_free(p);
        return EMG_FE_ENOMEM;
    }
    for (j = 0; j < p->L; j++) p->window[j] = (int32_t)t->window[j];
    for (j = 0; j < t->n_weights; j++) {
        p->w[j] = (int32_t)t->weight[j];
        p->wbin[j] = (int32_t)t->weight_bin[j];
    }
    for (m = 0; m < p->M; m++) p->bstart[m] = (int32_t)t->band_start[m];
    p->bstart[p->M] = t->n_weights;
    p->ws_bytes = ws_bytes(p);
    *out = p;
    return EMG_FE_OK;
invalid:
    emg_fe_plan_free(p);
    return EMG_FE_EINVAL;
}
