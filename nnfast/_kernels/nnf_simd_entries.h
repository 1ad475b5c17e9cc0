/* Prototypes of the entry points of one instance of nnf_simd_impl.h (same macros:
 * NNF_T, NNF_SFX, NNF_TGT), for a translation unit that calls an instance compiled in
 * another one (see NNF_SPLIT in nnf_simd.h).  Arguments are documented at the
 * definitions in nnf_simd_impl.h.  No guard: included once per instance. */

#define NNF_CAT_(a, b) a##_##b
#define NNF_CAT(a, b) NNF_CAT_(a, b)
#define FN(name) NNF_CAT(name, NNF_SFX)

NNF_ENTRY NNF_TGT double FN(output_error)(const NNF_T *Z, ptrdiff_t ld, const NNF_T *YT,
                                          ptrdiff_t ldy, ptrdiff_t n_out, ptrdiff_t nb,
                                          ptrdiff_t npad, int head, NNF_T *A, NNF_T *D,
                                          const NNF_T *W);
NNF_ENTRY NNF_TGT void FN(activate)(int act, NNF_T *a, ptrdiff_t n);
NNF_ENTRY NNF_TGT void FN(output_activation)(int head, const NNF_T *Z, ptrdiff_t ld,
                                             ptrdiff_t n_out, ptrdiff_t npad, NNF_T *A);
NNF_ENTRY NNF_TGT int FN(nonfinite)(const NNF_T *Z, ptrdiff_t rows, ptrdiff_t ld, ptrdiff_t n);
NNF_ENTRY NNF_TGT void FN(fwd1)(const NNF_T *X, ptrdiff_t nb, ptrdiff_t n_in, const NNF_T *WT,
                                ptrdiff_t hp, ptrdiff_t h, const NNF_T *b, NNF_T *Z,
                                ptrdiff_t ldz);
NNF_ENTRY NNF_TGT void FN(fwdT)(const NNF_T *W, ptrdiff_t n_k, ptrdiff_t h, const NNF_T *XT,
                                ptrdiff_t ldx, ptrdiff_t npad, NNF_T *Z, ptrdiff_t ldz,
                                const void *pf, ptrdiff_t pf_bytes);
NNF_ENTRY NNF_TGT void FN(grad1)(const NNF_T *D, ptrdiff_t ldd, ptrdiff_t h, const NNF_T *X,
                                 ptrdiff_t nb, ptrdiff_t n_in, NNF_T *G, const void *pf,
                                 ptrdiff_t pf_bytes);
NNF_ENTRY NNF_TGT void FN(spfwd)(const ptrdiff_t *indptr, const int *cols, const NNF_T *vals,
                                 ptrdiff_t nb, const NNF_T *WT, ptrdiff_t hp, ptrdiff_t h,
                                 const NNF_T *b, NNF_T *Z, ptrdiff_t ldz);
NNF_ENTRY NNF_TGT void FN(spgrad)(const int *ccols, const ptrdiff_t *cptr, ptrdiff_t n_cols,
                                  const int *crow, const NNF_T *cval, const NNF_T *Dt,
                                  ptrdiff_t hp, ptrdiff_t h, NNF_T *GT);
NNF_ENTRY NNF_TGT void FN(backprop)(const NNF_T *W, ptrdiff_t n_o, ptrdiff_t n_i,
                                    const NNF_T *D, const NNF_T *A, ptrdiff_t ld,
                                    ptrdiff_t npad, int act, NNF_T *P);

#undef FN
#undef NNF_CAT
#undef NNF_CAT_
