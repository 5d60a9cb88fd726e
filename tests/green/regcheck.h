/*
 * regcheck.h: calls a function with every callee-saved register of the ABI set to a known
 * pattern, and reports what those registers hold when it returns. Written in assembly
 * (regcheck_*.S) because C cannot put a value in a register and keep the compiler away from it.
 * If fn switches to another context that sets other patterns and back, any register the
 * switch failed to restore shows the other context's pattern.
 */
#ifndef REGCHECK_H
#define REGCHECK_H

#include <stdint.h>

#if defined(__x86_64__)
/* rbx rbp r12 r13 r14 r15, MXCSR, x87 control word */
enum { REGCHECK_N = 8 };
#define REGCHECK_NAMES { "rbx", "rbp", "r12", "r13", "r14", "r15", "mxcsr", "x87 cw" }
#elif defined(__aarch64__)
/* x19-x29, d8-d15 */
enum { REGCHECK_N = 19 };
#define REGCHECK_NAMES { "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", \
                         "x28", "x29", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15" }
#endif

void regcheck_call(void (*fn)(void *), void *arg, const uint64_t *load, uint64_t *store);

#endif
