interface Pending<T, R> {
  item: T;
  weight: number;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit (the worker's flushes, the API's hold authorizations): items submitted while a
 * flush is running wait and go together in the next one, up to maxWeight per flush (an item is never split). Idle, an item flushes at once, alone.
 * Each submit() settles with its own result once its flush has finished.
 */
export class GroupCommit<T, R> {
  private waiting: Pending<T, R>[] = [];
  private flushing = false;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly maxWeight: number,
  ) {}

  submit(item: T, weight: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, weight, resolve, reject });
      this.next();
    });
  }

  get idle(): boolean {
    return !this.flushing && this.waiting.length === 0;
  }

  private next(): void {
    if (this.flushing || this.waiting.length === 0) return;
    let weight = 0;
    let count = 0;
    while (count < this.waiting.length && (count === 0 || weight + this.waiting[count].weight <= this.maxWeight)) {
      weight += this.waiting[count].weight;
      count += 1;
    }
    const batch = this.waiting.splice(0, count);
    this.flushing = true;
    this.flush(batch.map((p) => p.item))
      .then(
        (results) => batch.forEach((p, i) => p.resolve(results[i])),
        (error) => batch.forEach((p) => p.reject(error)),
      )
      .finally(() => {
        this.flushing = false;
        this.next();
      });
  }
}
