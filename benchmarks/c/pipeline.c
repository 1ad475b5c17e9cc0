/* The cython kernel's per-block pipeline for the ex4 shape (m x 400 -> 25 -> 10, float64),
 * in C with OpenMP, on random data: each thread takes one half of the blocks (static), with
 * the prefetches of the real kernel.  Used to measure what memory traffic costs.
 *
 *   gcc -O3 -fno-math-errno -fopenmp -I nnfast/_kernels benchmarks/c/pipeline.c -lm -o pipeline
 *   ./pipeline 5000 400 2          # m, evaluations, threads: median / 5th / 95th percentile ms
 *
 * Variants (add to the gcc line):
 *   -DCACHED=1        every block reads one of two blocks' data (all in cache): the ceiling
 *   -DROWSCACHED      only the row copy of X is read from cache
 *   -DPANELSCACHED    only the panels of X are read from cache
 *   -DXPF=0           no prefetch of the rows during the forward pass
 *   -DVB=1            panels prefetched during the forward pass, rows during the gradient
 *   -DSUB=4           prefetch chain broken into 4 chunks per thread (chunk starts cold)
 *   -DCHUNKS=8        as the real kernel: 8 chunks of blocks taken dynamically, a slab
 *                     each, summed in chunk order after the loop (parallel over pieces)
 */
#include "nnf_simd.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <omp.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#ifndef XPF
#define XPF 1
#endif
#ifndef CACHED
#define CACHED 0
#endif
#ifndef CHUNKS
#define CHUNKS 0
#endif
int main(int argc,char**argv){
  int m=atoi(argv[1]), B=64, nin=400,h=25,no=10, reps=atoi(argv[2]), nt=atoi(argv[3]);
  int nblk=(m+B-1)/B;
  nnf_set_level(-1);
  size_t np1=h*(nin+1), np2=no*(h+1);
  double *th=aligned_alloc(64,8*(np1+np2+8));
  double *X=aligned_alloc(64,8*(size_t)nblk*B*nin);
  double *XP=aligned_alloc(64,8*(size_t)nblk*B*nin);
  double *YT=aligned_alloc(64,8*(size_t)no*m+64);
  double *Gs=aligned_alloc(64,8*(np1+np2+8)*(CHUNKS>8?CHUNKS:8));
  double *Gsum=aligned_alloc(64,8*(np1+np2+8));
  double *wss=aligned_alloc(64,8*B*200*8);
  srand(1);
  for(size_t i=0;i<np1+np2;i++)th[i]=0.1*(rand()/(double)RAND_MAX-0.5);
  for(size_t i=0;i<(size_t)nblk*B*nin;i++){X[i]=rand()/(double)RAND_MAX;}
  for(int b=0;b<nblk;b++)for(int i=0;i<B;i++)for(int k=0;k<nin;k++)XP[(size_t)b*B*nin+k*B+i]=X[(size_t)b*B*nin+i*nin+k];
  for(size_t i=0;i<(size_t)no*m;i++)YT[i]=(i%7)==0;
  double ts[1000]; double loss=0;
  for(int r=0;r<reps;r++){
    double t=now();
    #pragma omp parallel num_threads(nt) reduction(+:loss)
    {
      int tid=omp_get_thread_num();
      double *G=Gs+tid*(np1+np2+8), *ws=wss+tid*B*200;
      double *A1=ws, *A2=ws+h*B, *Zo=A2+no*B, *D2=Zo+no*B, *D1=D2+h*B, *R1=D1+h*B;
#if CHUNKS
      #pragma omp for schedule(dynamic,1)
      for(int c=0;c<CHUNKS;c++){
      G=Gs+c*(np1+np2+8);
      for(size_t i=0;i<np1+np2;i++)G[i]=0;
      int lo=c*nblk/CHUNKS, hi=(c+1)*nblk/CHUNKS;
#else
      {
      for(size_t i=0;i<np1+np2;i++)G[i]=0;
      int lo=tid*nblk/nt, hi=(tid+1)*nblk/nt;
#endif
      for(int b=lo;b<hi;b++){
        int bb = CACHED ? (b%2)+lo : b;
        int r0=b*B, nb = r0+B<=m?B:m-r0, npad=(nb+15)/16*16;
#ifdef ROWSCACHED
        const double *Xb=X+(size_t)((b%2)+lo)*B*nin, *XPb=XP+(size_t)bb*B*nin;
#elif defined(PANELSCACHED)
        const double *Xb=X+(size_t)bb*B*nin, *XPb=XP+(size_t)((b%2)+lo)*B*nin;
#else
        const double *Xb=X+(size_t)bb*B*nin, *XPb=XP+(size_t)bb*B*nin;
#endif
#if VB
        nnf_fwdT_d(th,nin,h,XPb,B,npad,A1,B, (b+1<hi)? XPb+B*nin : NULL, (size_t)B*nin*8);
#else
        nnf_fwdT_d(th,nin,h,XPb,B,npad,A1,B, XPF? Xb:NULL, nb*nin*8);
#endif
        nnf_activate_d(NNF_ACT_LOGISTIC,A1,h*B);
        for(int i=0;i<nb;i++)for(int u=0;u<h;u++)R1[i*h+u]=A1[u*B+i];
        nnf_fwdT_d(th+np1,h,no,A1,B,npad,Zo,B,NULL,0);
        loss+=nnf_output_error_d(Zo,B,YT+r0,m,no,nb,npad,0,A2,D2,NULL);
        nnf_grad1_d(D2,B,no,R1,nb,h,G+np1,NULL,0);
        nnf_backprop_d(th+np1,no,h,D2,A1,B,npad,NNF_ACT_LOGISTIC,D1);
        const double *nxt = (b+1<hi)? (CACHED? XP+(size_t)(((b+1)%2)+lo)*B*nin : XPb+B*nin) : NULL;
#ifdef SUB
        { int per=(hi-lo+SUB-1)/SUB; if (((b+1-lo)%per)==0) nxt=NULL; }
#endif
#if VB
        nnf_grad1_d(D1,B,h,Xb,nb,nin,G, (b+1<hi)? Xb+B*nin : NULL, (size_t)B*nin*8);
#else
        nnf_grad1_d(D1,B,h,Xb,nb,nin,G, nxt, (size_t)B*nin*8);
#endif
      }
      }
#if CHUNKS
      /* the slabs summed in chunk order, split over the parameters */
      #pragma omp for schedule(static)
      for(size_t p=0;p<np1+np2;p+=1024){
        size_t p1=p+1024<np1+np2?p+1024:np1+np2;
        for(size_t i=p;i<p1;i++)Gsum[i]=Gs[i];
        for(int c=1;c<CHUNKS;c++)for(size_t i=p;i<p1;i++)Gsum[i]+=Gs[c*(np1+np2+8)+i];
      }
#endif
    }
    ts[r]=now()-t;
  }
  // median
  for(int i=0;i<reps;i++)for(int j=i+1;j<reps;j++)if(ts[j]<ts[i]){double q=ts[i];ts[i]=ts[j];ts[j]=q;}
  printf("m=%d nt=%d median %.3f ms, p5 %.3f, p95 %.3f\n",m,nt,ts[reps/2]*1e3,ts[reps/20]*1e3,ts[reps*19/20]*1e3);
  return (int)loss&1;
}
