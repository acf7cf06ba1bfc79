/*
 * trapasm.S - the kernel's entry and exit: one tiny stub per vector, the common path that
 * saves a task's registers into a trap frame, the IRET back out, and swtch().
 *
 * Concept: what the CPU does on an interrupt, exception or `int 0x80`, and what it leaves to
 * the kernel. Coming from ring 3 the CPU loads SS:ESP from the TSS (gdt.c), pushes the user's
 * SS, ESP, EFLAGS, CS and EIP (and an error code for some exceptions) on that kernel stack,
 * loads CS:EIP from the gate and clears IF (interrupt gate). Every other register still holds
 * the task's values: saving them is the kernel's job, here. IRET undoes it: it pops EIP, CS,
 * EFLAGS and, because the saved CS has RPL 3, also ESP and SS, returning to ring 3.
 * Textbook: chapter 5 "A guest OS", sections "The IDT and exceptions" and "System calls".
 * Intel SDM vol. 3, sections 6.12.1 and 6.13 "Error code".
 *
 * The trap frame this builds is struct trapframe in os.h (the same as xv6's). Selector
 * 0x10 below is SEL_KDATA (os.h; its C constants carry a 'u' the assembler cannot read).
 */
	.code32
	.text

/*
 * The CPU pushes an error code for exceptions 8, 10-14, 17, 21, 29 and 30 only. The stubs
 * for all other vectors push a zero in its place, so every trap frame has the same shape.
 */
.macro VEC_NOERR n
	.globl vector\n
vector\n:
	pushl	$0
	pushl	$\n
	jmp	alltraps
.endm

.macro VEC_ERR n
	.globl vector\n
vector\n:
	pushl	$\n
	jmp	alltraps
.endm

	VEC_NOERR 0
	VEC_NOERR 1
	VEC_NOERR 2
	VEC_NOERR 3
	VEC_NOERR 4
	VEC_NOERR 5
	VEC_NOERR 6
	VEC_NOERR 7
	VEC_ERR   8
	VEC_NOERR 9
	VEC_ERR   10
	VEC_ERR   11
	VEC_ERR   12
	VEC_ERR   13
	VEC_ERR   14
	VEC_NOERR 15
	VEC_NOERR 16
	VEC_ERR   17
	VEC_NOERR 18
	VEC_NOERR 19
	VEC_NOERR 20
	VEC_ERR   21
	VEC_NOERR 22
	VEC_NOERR 23
	VEC_NOERR 24
	VEC_NOERR 25
	VEC_NOERR 26
	VEC_NOERR 27
	VEC_NOERR 28
	VEC_ERR   29
	VEC_ERR   30
	VEC_NOERR 31
	/* the PIC's sixteen lines, IRQ 0-15 -> vectors 0x20-0x2F (pic.h) */
	.irp n, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
	VEC_NOERR \n
	.endr
	/* the system call gate */
	VEC_NOERR 128

/*
 * The common path. Save the segment registers and the eight general registers, load the
 * kernel's data segments (DS/ES still hold the user's 0x23, which would work since the
 * segments are flat, but the kernel should not run on the user's selectors), and call
 * trap(struct trapframe *) with ESP, which now points at the frame.
 */
	.globl alltraps
alltraps:
	pushl	%ds
	pushl	%es
	pushl	%fs
	pushl	%gs
	pushal
	movw	$0x10, %ax		/* SEL_KDATA */
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %fs
	movw	%ax, %gs
	cld				/* the C ABI wants DF = 0; a task may have set it */
	pushl	%esp			/* argument: the trap frame */
	call	trap
	addl	$4, %esp
	/* fall through: return to whoever trapped */

/*
 * Restore what alltraps saved and IRET. A task's very first entry to ring 3 also comes
 * here: task.c builds a trap frame by hand (user CS/SS, EIP = the program's entry, EFLAGS
 * with IF = 1) and swtch() "returns" to trapret with ESP at that frame.
 */
	.globl trapret
trapret:
	popal
	popl	%gs
	popl	%fs
	popl	%es
	popl	%ds
	addl	$8, %esp		/* the vector and the error code */
	testl	$3, 4(%esp)		/* the saved CS: RPL 3 means back to ring 3 */
	jz	1f
	iret
	/*
	 * Back to ring 0: only an exception the kernel expected (paging.c's fixup) returns
	 * here. POPF + far RET (dropping EFLAGS' slot) does what IRET does without a privilege
	 * change. Why not IRET: on a PVM host this kernel runs in KVM's instruction emulator,
	 * which cannot emulate a protected-mode IRET at all (it stops with "emulation failed").
	 */
1:	pushl	8(%esp)			/* the saved EFLAGS */
	popfl
	lret	$4			/* pop EIP and CS, then skip the EFLAGS slot */

/*
 * void swtch(struct context **save, struct context *load)
 *
 * Stop running on this stack and continue on another, like xv6's swtch. Push the registers
 * a C function must preserve (EBP, EBX, ESI, EDI; the return address is already there),
 * store ESP in *save, load ESP = load, pop the other stack's registers and RET into wherever
 * that stack was when it called swtch (or into trapret, for a task's first run). The kernel
 * uses it twice per task: task.c switches from the boot stack to the task's kernel stack, and
 * the task's exit or kill switches back.
 */
	.globl swtch
swtch:
	movl	4(%esp), %eax
	movl	8(%esp), %edx
	pushl	%ebp
	pushl	%ebx
	pushl	%esi
	pushl	%edi
	movl	%esp, (%eax)
	movl	%edx, %esp
	popl	%edi
	popl	%esi
	popl	%ebx
	popl	%ebp
	ret

/* The table idt.c walks: the stub address of vectors 0-31, 0x20-0x2F and 0x80, in order. */
	.section .rodata
	.balign 4
	.globl trap_stubs
trap_stubs:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.long	vector\n
	.endr
	.irp n, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
	.long	vector\n
	.endr
	.long	vector128

	.section .note.GNU-stack, "", @progbits
