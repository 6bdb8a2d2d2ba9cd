/** bench/RESULTS.md: each benchmark owns one section, which its run replaces. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { benchDir } from './processes.ts';

/** Replaces the section that starts with `heading` in bench/RESULTS.md (creating the file if needed). */
export async function writeResults(heading: string, section: string): Promise<void> {
  const file = path.join(benchDir, 'RESULTS.md');
  let text = await fsp.readFile(file, 'utf8').catch(() => '# Benchmarks\n');
  const start = text.indexOf(heading);
  if (start < 0) {
    text = `${text.trimEnd()}\n\n${section}`;
  } else {
    const next = text.indexOf('\n## ', start + heading.length);
    text = `${text.slice(0, start)}${section}${next < 0 ? '' : `\n${text.slice(next + 1)}`}`;
  }
  await fsp.writeFile(file, `${text.trimEnd()}\n`);
}
