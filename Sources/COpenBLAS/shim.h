// COpenBLAS: the system OpenBLAS (CBLAS interface) plus the few LAPACK routines the
// optimizers need (SVD, symmetric eigendecomposition, QR). Debian's libopenblas exports the
// Fortran LAPACK symbols itself, so they are declared here rather than pulling in LAPACKE.
// Fortran convention: every argument by pointer, matrices column-major; each CHARACTER
// argument adds a hidden length (size_t) at the end, as gfortran passes it.
#pragma once
#include <stddef.h>
#include <cblas.h>

// Thin SVD (divide and conquer): A[m×n] = U·diag(S)·VT.
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda,
             float *s, float *u, const int *ldu, float *vt, const int *ldvt,
             float *work, const int *lwork, int *iwork, int *info, size_t jobz_len);
// Symmetric eigendecomposition (divide and conquer), eigenvalues ascending.
void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda,
             float *w, float *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);
// QR factorisation and explicit Q.
void sgeqrf_(const int *m, const int *n, float *a, const int *lda, float *tau,
             float *work, const int *lwork, int *info);
void sorgqr_(const int *m, const int *n, const int *k, float *a, const int *lda,
             const float *tau, float *work, const int *lwork, int *info);
