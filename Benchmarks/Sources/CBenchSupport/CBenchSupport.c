// glibc declares pthread_getattr_np only with _GNU_SOURCE, which Swift's Glibc module does not
// define; mallinfo2's header is not in that module either. Hence these two wrappers.
#define _GNU_SOURCE
#include "CBenchSupport.h"

#include <pthread.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

size_t bench_heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
#else
    return 0;
#endif
}

int bench_thread_stack(uintptr_t *low, size_t *size) {
#if defined(__linux__)
    pthread_attr_t attributes;
    if (pthread_getattr_np(pthread_self(), &attributes) != 0) return -1;
    void *address = NULL;
    size_t length = 0;
    int result = pthread_attr_getstack(&attributes, &address, &length);
    pthread_attr_destroy(&attributes);
    *low = (uintptr_t)address;
    *size = length;
    return result;
#else
    *low = 0;
    *size = 0;
    return -1;
#endif
}
