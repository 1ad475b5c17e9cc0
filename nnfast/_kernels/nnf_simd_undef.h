/* Clears the parameters of one instantiation of nnf_simd_impl.h, so the next can set them. */
#undef NNF_T
#undef NNF_I
#undef NNF_DOUBLE
#undef NNF_SEXP
#undef NNF_SFX
#undef NNF_VBYTES
#undef NNF_TGT
#undef NNF_FWD1_VECS
#undef NNF_FWD1_ROWS_1
#undef NNF_FWD1_ROWS_2
#undef NNF_FWD1_ROWS_3
#undef NNF_FWD1_ROWS_4
#undef NNF_TILE_A_UNITS
#undef NNF_TILE_A_VECS
#undef NNF_TILE_B_UNITS
#undef NNF_TILE_B_VECS
#undef NNF_FWDT_KC_BYTES
