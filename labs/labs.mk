# labs.mk - the labs (labs/NN-name/): grading, student copies, the Gradescope autograder and the
# tools' own checks. Included by the top-level Makefile; paths relative to the repository root.
#
#   make grade [LAB=N] [TEST=sub]    build, run lab N's visible tests (labs/grade.sh), Score: X/Y
#                                    (a student copy knows its lab: labs/LAB). GRADE_FLAGS=--hidden
#                                    adds the hidden ones (in the project, which has them)
#   make lab-starter LAB=N OUT=DIR   a student copy for lab N in DIR (labs/labtool.sh starter)
#   make lab-autograder LAB=N        build/lab-N-autograder.zip for Gradescope (labs/autograder/)
#   make test-labs                   every lab: markers and tests (labtool.sh check), its starter
#                                    builds without a warning and scores 0, the reference scores
#                                    full marks, and its autograder writes good results.json
#                                    (labs/test-labs.sh; make test runs it)
#
# The conventions (markers in the sources, the tests file) are in labs/README.md; running a
# course with them, in textbook chapter 7 "For instructors".

LAB  ?= $(shell cat labs/LAB 2>/dev/null)
TEST ?=
GRADE_FLAGS ?=

.PHONY: grade lab-starter lab-autograder test-labs lab-vars lab-need-lab

lab-need-lab:
	@case "$(LAB)" in [1-9]) ;; *) echo "which lab? add LAB=N (N = 1..9; labs/: $$(ls -d labs/[0-9]*/ 2>/dev/null | tr '\n' ' '))"; exit 2 ;; esac

# grade.sh builds what it needs itself (as the student's user when it runs as root).
grade: lab-need-lab
	@LAB=$(LAB) TEST='$(TEST)' O=$(O) bash labs/grade.sh $(GRADE_FLAGS)

lab-starter: lab-need-lab
	@[ -n "$(OUT)" ] || { echo "where? add OUT=DIR (a new directory outside this repository)"; exit 2; }
	@O=$(O) sh labs/labtool.sh starter $(LAB) $(OUT)

lab-autograder: lab-need-lab
	@bash labs/autograder/make-zip.sh $(LAB) build/lab-$(LAB)-autograder.zip

test-labs: all $(O)/tests/unit $(O)/tests/integration $(O)/bench/exitbench
	@O=$(O) bash labs/test-labs.sh

# What grade.sh needs from this Makefile when it is not started by make (shell assignments).
lab-vars:
	@printf "KVM_TESTS='%s'\nRING3_TESTS='%s'\nINTEG_ENV='%s'\n" '$(KVM_TESTS)' '$(RING3_TESTS)' '$(INTEG_ENV)'
