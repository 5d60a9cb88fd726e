/* regcheck_x86_64.S: see regcheck.h.
 * void regcheck_call(fn (rdi), arg (rsi), const uint64_t load[8] (rdx), uint64_t store[8] (rcx)) */
#if defined(__x86_64__)
	.text
	.globl	regcheck_call
	.type	regcheck_call, @function
	.p2align 4
regcheck_call:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$24, %rsp		/* 16-byte aligned again for the call */
	.cfi_def_cfa_offset 80
	movq	%rcx, 0(%rsp)		/* where to store, kept across the call */
	stmxcsr	8(%rsp)			/* the caller's FP modes, restored at the end */
	fnstcw	12(%rsp)
	movq	%rdi, %rax
	movq	%rsi, %rdi
	movq	0(%rdx), %rbx
	movq	8(%rdx), %rbp
	movq	16(%rdx), %r12
	movq	24(%rdx), %r13
	movq	32(%rdx), %r14
	movq	40(%rdx), %r15
	ldmxcsr	48(%rdx)
	fldcw	56(%rdx)
	callq	*%rax
	movq	0(%rsp), %rcx
	movq	%rbx, 0(%rcx)
	movq	%rbp, 8(%rcx)
	movq	%r12, 16(%rcx)
	movq	%r13, 24(%rcx)
	movq	%r14, 32(%rcx)
	movq	%r15, 40(%rcx)
	movq	$0, 48(%rcx)
	movq	$0, 56(%rcx)
	stmxcsr	48(%rcx)
	fnstcw	56(%rcx)
	ldmxcsr	8(%rsp)
	fldcw	12(%rsp)
	addq	$24, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	regcheck_call, .-regcheck_call
#endif
	.section .note.GNU-stack,"",@progbits
