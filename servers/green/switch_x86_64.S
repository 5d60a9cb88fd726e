/*
 * switch_x86_64.S: green_ctx_switch and green_ctx_init for the System V x86-64 ABI.
 *
 * The frame a suspended context leaves at its stack pointer, lowest address first:
 *
 *     sp+0   MXCSR (4 bytes), x87 control word (2 bytes), 2 bytes unused
 *     sp+8   r15, r14, r13, r12, rbx, rbp
 *     sp+56  return address
 *
 * MXCSR and the x87 control word hold rounding modes and exception masks, which the ABI
 * makes callee-saved; the status flags in them are not, but saving the whole word is as cheap.
 */
#if defined(__x86_64__) && !defined(GREEN_UCONTEXT)

	.text

/* void green_ctx_switch(struct green_ctx *from (rdi), struct green_ctx *to (rsi)) */
	.globl	green_ctx_switch
	.type	green_ctx_switch, @function
	.p2align 4
green_ctx_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsp, %rax		/* the frame just saved: the FP modes in force now */
	movq	(%rsi), %rsp
	/* Loading MXCSR or the x87 control word stalls the pipeline for tens of cycles, and the
	 * two contexts almost always hold the same modes: compare the two saved words (MXCSR's
	 * exception flags, bits 0-5, are status, not state, and the 2 padding bytes are junk)
	 * and load only when they differ. */
	movq	(%rax), %rcx
	xorq	(%rsp), %rcx
	movabsq	$0xffffffffffc0, %rdx
	testq	%rdx, %rcx
	jz	1f
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
1:	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	/* Not `ret`: the CPU predicts a ret from its return stack, which holds the address of
	 * this context's call, so a ret into the other context would be mispredicted on every
	 * switch (it doubles the cost). An indirect jump is predicted from its own history. */
	popq	%rcx
	jmpq	*%rcx
	.cfi_endproc
	.size	green_ctx_switch, .-green_ctx_switch

/*
 * The first code a new context runs: green_ctx_switch "returns" here with entry in r12 and
 * its argument in r13, and the stack 16-byte aligned as the ABI wants before a call.
 * rip is marked undefined so debuggers and unwinders stop here instead of walking into
 * whatever lies above the stack.
 */
	.type	green_ctx_start, @function
	.p2align 4
green_ctx_start:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	movq	%r13, %rdi
	callq	*%r12
	ud2				/* entry must not return */
	.cfi_endproc
	.size	green_ctx_start, .-green_ctx_start

/* void green_ctx_init(struct green_ctx *c (rdi), void *lo (rsi), size_t size (rdx),
 *                     void (*entry)(void *) (rcx), void *arg (r8))
 * Builds the frame described above at the top of the stack, 16-byte aligned, with a zero
 * word above it as the outermost (fake) return address. */
	.globl	green_ctx_init
	.type	green_ctx_init, @function
	.p2align 4
green_ctx_init:
	.cfi_startproc
	leaq	(%rsi,%rdx), %rax
	andq	$-16, %rax		/* top of the stack, aligned */
	subq	$80, %rax		/* frame (64) + fake return address and padding (16) */
	stmxcsr	(%rax)			/* the new context starts with the creator's FP modes */
	fnstcw	4(%rax)
	movw	$0, 6(%rax)
	movq	$0, 8(%rax)		/* r15 */
	movq	$0, 16(%rax)		/* r14 */
	movq	%r8, 24(%rax)		/* r13: arg */
	movq	%rcx, 32(%rax)		/* r12: entry */
	movq	$0, 40(%rax)		/* rbx */
	movq	$0, 48(%rax)		/* rbp */
	leaq	green_ctx_start(%rip), %rcx
	movq	%rcx, 56(%rax)		/* return address: green_ctx_start */
	movq	$0, 64(%rax)
	movq	$0, 72(%rax)
	movq	%rax, (%rdi)
	ret
	.cfi_endproc
	.size	green_ctx_init, .-green_ctx_init

#endif
	.section .note.GNU-stack,"",@progbits
