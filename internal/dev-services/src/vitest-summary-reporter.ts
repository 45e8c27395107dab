import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * Ends a run with one plain line, `tests: N passed, N failed, N skipped`,
 * that CI and people can read without knowing vitest's own summary. The
 * skipped tests are named, so a suite that skipped (no Redis) is loud.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    const skipped: string[] = [];

    for (const testModule of testModules) {
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else
          skipped.push(
            `${relative(process.cwd(), testModule.moduleId)}: ${test.fullName}`,
          );
      }
    }

    const lines = skipped.map((name) => `skipped: ${name}\n`);
    lines.push(
      `\ntests: ${passed} passed, ${failed} failed, ${skipped.length} skipped\n`,
    );
    process.stdout.write(lines.join(''));
  }
}
