/*
 * Probe.java - what a program inside a JVM can see of its host: the JVM's row of
 * textbook/tools/vm-vs-process.sh.
 *
 * Concept: a JVM is a virtual machine for one program (it runs bytecode), not for an operating
 * system. It is an ordinary host process: it has a host PID, it shares the host's kernel, and
 * it sees every process and the hostname of the host. Printed on one line, like the shell probe
 * of the other rows: "PID PROCESSES HOSTNAME".
 * Textbook: chapter 10 "VMs, containers and the JVM", section "Start cost and isolation, measured".
 */
import java.nio.file.Files;
import java.nio.file.Paths;

public class Probe {
	public static void main(String[] args) throws Exception {
		long pid = ProcessHandle.current().pid();
		long procs = ProcessHandle.allProcesses().count();
		String host = new String(Files.readAllBytes(Paths.get("/proc/sys/kernel/hostname"))).trim();
		System.out.println(pid + " " + procs + " " + host);
	}
}
