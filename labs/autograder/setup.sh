#!/usr/bin/env bash
# setup.sh - Gradescope runs this once, as root, when it builds the autograder's Docker image
# (an Ubuntu image, no /dev/kvm). It runs in /autograder/source (the zip, see make-zip.sh).
#
#   1. the Debian packages the build and tests need (the Makefile's DEB_PKGS: make deps);
#   2. the user `student`, who runs everything built from a submission (labs/grade.sh);
#   3. the lab VM's kernel, busybox and initramfs (make labvm-initramfs: apt-get download, so
#      at image-build time, which has a network; grading needs none).
# Textbook chapter 7 "For instructors", section "Grading on Gradescope".
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq make
make deps
id -u student >/dev/null 2>&1 || useradd --create-home --shell /bin/bash student
make --no-print-directory labvm-initramfs
