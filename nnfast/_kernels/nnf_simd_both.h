/* Instantiates nnf_simd_impl.h in double and in float for one target, whose
 * parameters (NNF_VBYTES, NNF_TGT, NNF_FWD1_VECS, tile sizes) and name NNF_TARGET are
 * defined by the includer; names get the suffix d_<target> or f_<target>.  With
 * NNF_DEFINE 0 it only declares the instances' entry points (nnf_simd_entries.h),
 * compiled in another translation unit.
 * Clears every parameter afterwards, so the next target can set its own. */
#define NNF_SFX_CAT_(a, b) a##_##b
#define NNF_SFX_CAT(a, b) NNF_SFX_CAT_(a, b)

#define NNF_T double
#define NNF_I int64_t
#define NNF_DOUBLE 1
#define NNF_SEXP exp
#define NNF_SFX NNF_SFX_CAT(d, NNF_TARGET)
#if NNF_DEFINE
#include "nnf_simd_impl.h"
#else
#include "nnf_simd_entries.h"
#endif
#undef NNF_T
#undef NNF_I
#undef NNF_DOUBLE
#undef NNF_SEXP
#undef NNF_SFX

#define NNF_T float
#define NNF_I int32_t
#define NNF_DOUBLE 0
#define NNF_SEXP expf
#define NNF_SFX NNF_SFX_CAT(f, NNF_TARGET)
#if NNF_DEFINE
#include "nnf_simd_impl.h"
#else
#include "nnf_simd_entries.h"
#endif
#include "nnf_simd_undef.h"
#undef NNF_TARGET
#undef NNF_DEFINE
#undef NNF_SFX_CAT
#undef NNF_SFX_CAT_
