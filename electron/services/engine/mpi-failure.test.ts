// mpirun's failure reports (Open MPI 4.1 wording, as seen in the namespace tests) -> one line naming the host.
import { describe, expect, it } from "vitest";
import { mpiFailureSummary } from "./mpi-failure.js";

const rule = "-".repeat(74);

describe("mpiFailureSummary", () => {
  it("names the rank and host of a killed process", () => {
    const tail = `${rule}\nmpirun noticed that process rank 1 with PID 21119 on node h1 exited on signal 9 (Killed).\n${rule}\n`;
    expect(mpiFailureSummary(tail)).toBe("rank 1 on host h1 died (signal 9, Killed)");
  });

  it("names the host whose daemon was lost (link down)", () => {
    const tail = [
      rule,
      "ORTE has lost communication with a remote daemon.",
      "",
      "  HNP daemon   : [[65160,0],0] on node h0",
      "  Remote daemon: [[65160,0],2] on node h2",
      "",
      "This is usually due to either a failure of the TCP network",
    ].join("\n");
    expect(mpiFailureSummary(tail)).toBe("lost contact with host h2 (its network link or Open MPI daemon failed)");
  });

  it("says nothing when mpirun named no host", () => {
    expect(mpiFailureSummary("vggt-engine serve: error: bad weights\n")).toBeNull();
    const nonZero = "mpirun detected that one or more processes exited with non-zero status, thus causing\n" +
      "the job to be terminated. The first process to do so was:\n\n  Process name: [[58463,1],1]\n  Exit code:    1\n";
    expect(mpiFailureSummary(nonZero)).toBeNull();
    expect(mpiFailureSummary("")).toBeNull();
  });
});
