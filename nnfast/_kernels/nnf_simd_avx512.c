/* The avx512 instance of the microkernels, in a translation unit of its own so that
 * the build compiles the instances in parallel (see NNF_SPLIT in nnf_simd.h). */
#define NNF_ONLY_AVX512 1
#include "nnf_simd.h"
