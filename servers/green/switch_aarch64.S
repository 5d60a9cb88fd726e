/*
 * switch_aarch64.S: green_ctx_switch and green_ctx_init for the AArch64 procedure call
 * standard (AAPCS64).
 *
 * The frame a suspended context leaves at its stack pointer (160 bytes, 16-aligned as sp
 * must always be):
 *
 *     sp+0    x19 x20   sp+16  x21 x22   sp+32  x23 x24   sp+48  x25 x26   sp+64  x27 x28
 *     sp+80   x29 (frame pointer) x30 (link register: where the switch returns to)
 *     sp+96   d8 d9     sp+112 d10 d11   sp+128 d12 d13   sp+144 d14 d15
 *
 * Only the low 64 bits of v8-v15 are callee-saved, so d8-d15 is exactly enough.
 */
#if defined(__aarch64__) && !defined(GREEN_UCONTEXT)

	.text

/* void green_ctx_switch(struct green_ctx *from (x0), struct green_ctx *to (x1)) */
	.globl	green_ctx_switch
	.type	green_ctx_switch, %function
	.p2align 4
green_ctx_switch:
	.cfi_startproc
	sub	sp, sp, #160
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mov	x9, sp
	str	x9, [x0]
	ldr	x9, [x1]
	mov	sp, x9
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #160
	ret
	.cfi_endproc
	.size	green_ctx_switch, .-green_ctx_switch

/* The first code a new context runs: entry in x19, its argument in x20. x30 is undefined so
 * unwinders stop here. */
	.type	green_ctx_start, %function
	.p2align 4
green_ctx_start:
	.cfi_startproc
	.cfi_undefined x30
	mov	x29, #0
	mov	x0, x20
	blr	x19
	brk	#0			/* entry must not return */
	.cfi_endproc
	.size	green_ctx_start, .-green_ctx_start

/* void green_ctx_init(struct green_ctx *c (x0), void *lo (x1), size_t size (x2),
 *                     void (*entry)(void *) (x3), void *arg (x4)) */
	.globl	green_ctx_init
	.type	green_ctx_init, %function
	.p2align 4
green_ctx_init:
	.cfi_startproc
	add	x9, x1, x2
	and	x9, x9, #~15		/* top of the stack, aligned */
	sub	x9, x9, #176		/* frame (160) + a zero fake return record (16) */
	stp	xzr, xzr, [x9, #160]
	stp	x3, x4, [x9, #0]	/* x19: entry, x20: arg */
	stp	xzr, xzr, [x9, #16]
	stp	xzr, xzr, [x9, #32]
	stp	xzr, xzr, [x9, #48]
	stp	xzr, xzr, [x9, #64]
	adr	x10, green_ctx_start
	stp	xzr, x10, [x9, #80]	/* x29: 0, x30: green_ctx_start */
	stp	xzr, xzr, [x9, #96]
	stp	xzr, xzr, [x9, #112]
	stp	xzr, xzr, [x9, #128]
	stp	xzr, xzr, [x9, #144]
	str	x9, [x0]
	ret
	.cfi_endproc
	.size	green_ctx_init, .-green_ctx_init

#endif
	.section .note.GNU-stack,"",%progbits
