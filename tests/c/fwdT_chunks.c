/* fwdT's chunks of inputs (NNF_FWDT_KC_BYTES) change no bit of its result: built twice by
 * tests/test_simd_levels_c.py, with -DNNF_FWDT_KC_AVX2=0 (the inputs at once) and with
 * small chunks, this prints the level it ran and a hash of fwdT's output bytes, in
 * double and float, on a layer of 150 inputs (uneven chunks) and 13 units, with and
 * without a prefetch stream (the AVX2 level, or the best below it). */
#include "nnf_simd.h"
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#define NI 150
#define H 13
#define NB 48
static uint64_t fnv(const void *p, size_t n)
{
    const unsigned char *c = p;
    uint64_t h = 1469598103934665603ull;
    while (n--) { h ^= *c++; h *= 1099511628211ull; }
    return h;
}
#define RUN(T, sfx)                                                                     \
static uint64_t run_##sfx(int with_pf)                                                  \
{                                                                                       \
    static T W[H * (NI + 1)], XT[NI * NB], Z[H * NB], R[NB * NI];                       \
    int i;                                                                              \
    srand(11);                                                                          \
    for (i = 0; i < H * (NI + 1); i++) W[i] = (T)(rand() / (double)RAND_MAX - 0.5);     \
    for (i = 0; i < NI * NB; i++) XT[i] = (T)(rand() / (double)RAND_MAX);               \
    nnf_fwdT_##sfx(W, NI, H, XT, NB, NB, Z, NB, with_pf ? R : NULL, with_pf ? sizeof R : 0); \
    return fnv(Z, sizeof Z);                                                            \
}
RUN(double, d)
RUN(float, f)
int main(void)
{
    /* the AVX2 level, the one that takes chunks, wherever the CPU runs it */
    printf("level %s\n", nnf_level_name(nnf_set_level(NNF_AVX2)));
    printf("%016llx %016llx %016llx %016llx\n", (unsigned long long)run_d(0),
           (unsigned long long)run_d(1), (unsigned long long)run_f(0), (unsigned long long)run_f(1));
    return 0;
}
