# boot.sh - hvlab.run=boot: the kernel reached init; show what Linux found on hv's machine.
# Run by tests/linux/init. The 8250 driver's line names the UART model it detected by probing
# hv's registers (hv/dev/uart.c); the test reads it from here (tests/integration/test_linux.c).
dmesg | grep -m1 'ttyS0 at I/O'
exit 0
