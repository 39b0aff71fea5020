#ifndef C_BENCH_SUPPORT_H
#define C_BENCH_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/// Bytes malloc has handed out and not had back, over all arenas (glibc mallinfo2: uordblks +
/// hblkhd); 0 where mallinfo2 is not available.
size_t bench_heap_in_use(void);

/// The calling thread's stack: its lowest address and its size. Returns 0 on success.
int bench_thread_stack(uintptr_t *low, size_t *size);

#endif
