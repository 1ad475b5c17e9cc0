/* Clears the parameters of one instantiation of nnf_simd_impl.h, so the next can set them. */
#undef NNF_T
#undef NNF_I
#undef NNF_DOUBLE
#undef NNF_SEXP
#undef NNF_SFX
#undef NNF_VBYTES
#undef NNF_TGT
#undef NNF_NV
#undef NNF_R1
#undef NNF_R2
#undef NNF_R3
#undef NNF_R4
#undef NNF_UA
#undef NNF_KVA
#undef NNF_UB
#undef NNF_KVB
