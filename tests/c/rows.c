/* nnf_rows.h against the element-by-element copy, for every count of units and rows
 * up to a few vectors past the 4 x 4 and 2 x 2 blocks (all remainders), in both dtypes.
 *
 *   cc -O2 -I nnfast/_kernels tests/c/rows.c -o rows && ./rows
 */
#include "nnf_rows.h"
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    long bad = 0, checked = 0;
    int n, nb, u, r, i;
    const int ld = 48;
    srand(3);
    for (n = 1; n <= 19; n++)
        for (nb = 1; nb <= ld; nb++) {
            float *A = malloc(sizeof(float) * n * ld), *T = malloc(sizeof(float) * n * nb);
            double *Ad = malloc(sizeof(double) * n * ld), *Td = malloc(sizeof(double) * n * nb);
            for (i = 0; i < n * ld; i++) {
                A[i] = (float)rand() / RAND_MAX;
                Ad[i] = (double)rand() / RAND_MAX;
            }
            nnf_to_rows_f(A, n, ld, nb, T);
            nnf_to_rows_d(Ad, n, ld, nb, Td);
            for (r = 0; r < nb; r++)
                for (u = 0; u < n; u++) {
                    bad += T[r * n + u] != A[u * ld + r];
                    bad += Td[r * n + u] != Ad[u * ld + r];
                    checked += 2;
                }
            free(A); free(T); free(Ad); free(Td);
        }
    printf("%ld of %ld copied values differ (vectors: %d)\n", bad, checked, NNF_ROWS_VECTORS);
    return bad != 0;
}
