/* Example and test driver: int16 little-endian PCM on stdin → int16 features on stdout.
 *
 * Build (tables from `emg-edge frontend-tables --bundle default --out emg_fe_tables.h`), with the
 * plan, the stages and one DFT file:
 *     cc -std=c99 -O2 -I. -I<dir of emg_fe_tables.h> fe_example.c emg_fe_plan.c emg_fe_stages.c \
 *        emg_fe_dft_f64.c -o fe_example
 *     ./fe_example < pcm.raw > feats.raw      # n_frames × n_mels int16 (1/64 dB), row-major
 *
 * For a CPU without a double-precision FPU (Cortex-M4F/M33) build emg_fe_dft_int64.c instead of
 * emg_fe_dft_f64.c: plain int64 DFT, no floating point at all, the same features (see
 * emg_frontend.h for its memory and speed):
 *     cc -std=c99 -O2 -I. -I<tables dir> fe_example.c emg_fe_plan.c emg_fe_stages.c \
 *        emg_fe_dft_int64.c -o fe_example
 *
 * The tables header must define `fe_tables` and FE_HOP (the default --name fe).
 * Streaming the way a unit would: keep the last L − H samples of each frame, read H more.
 * Byte order: this driver assumes a little-endian host, as the wire protocol's int16 are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emg_fe_tables.h"
#include "emg_frontend.h"

int main(void) {
    emg_fe_plan *plan;
    if (emg_fe_plan_create(&fe_tables, &plan) != EMG_FE_OK) {
        fprintf(stderr, "fe_example: tables rejected\n");
        return 2;
    }
    const size_t L = (size_t)emg_fe_frame_length(plan), H = FE_HOP;
    const size_t M = (size_t)emg_fe_n_mels(plan);
    int16_t *frame = malloc(L * sizeof *frame);
    int16_t *feats = malloc(M * sizeof *feats);
    void *work = malloc(emg_fe_workspace_size(plan));
    if (!frame || !feats || !work) return 1;
    /* First frame: L samples; each next frame: shift by H (H ≤ L here) and read H samples. */
    size_t have = fread(frame, sizeof *frame, L, stdin);
    while (have == L) {
        emg_fe_compute(plan, frame, (ptrdiff_t)H, 1, feats, work);
        fwrite(feats, sizeof *feats, M, stdout);
        if (H >= L) break; /* hop longer than the window: not used by this example */
        memmove(frame, frame + H, (L - H) * sizeof *frame);
        have = L - H + fread(frame + (L - H), sizeof *frame, H, stdin);
    }
    free(work);
    free(feats);
    free(frame);
    emg_fe_plan_free(plan);
    return 0;
}
