import { describe, expect, it } from 'vitest';
import { imagingSlotsFor } from './imaging-slots.ts';
import { Slots, SlotsFull } from './slots.ts';

/** A task that ends when told to. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe('Slots', () => {
  it('runs at most `size` at once, the rest in arrival order, and refuses past the line', async () => {
    const seen: { running: number; waiting: number }[] = [];
    const slots = new Slots(2, 2, (running, waiting) => seen.push({ running, waiting }));
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      slots.run(async () => {
        started.push(i);
        await g.opened;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect([slots.active, slots.waiting]).toEqual([2, 2]);
    await expect(slots.run(async () => 'fifth')).rejects.toBeInstanceOf(SlotsFull);

    gates[1]!.open();
    await runs[1];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) g.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect([slots.active, slots.waiting]).toEqual([0, 0]);
    expect(Math.max(...seen.map((s) => s.running))).toBe(2);
    expect(seen.at(-1)).toEqual({ running: 0, waiting: 0 });
  });

  it('frees the slot of a task that throws', async () => {
    const slots = new Slots(1, 0);
    await expect(slots.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await slots.run(async () => 'next')).toBe('next');
  });
});

describe('imagingSlotsFor', () => {
  it('leaves min(4, half the pool) threads of libuv pool to file I/O, and image work at least one', () => {
    expect(imagingSlotsFor(1)).toBe(1);
    expect(imagingSlotsFor(2)).toBe(1);
    expect(imagingSlotsFor(4)).toBe(2);
    expect(imagingSlotsFor(8)).toBe(4);
    expect(imagingSlotsFor(20)).toBe(16);
  });
});
