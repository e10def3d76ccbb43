/** Small DOM helpers. */

/** The element with this id, of the expected type; throws if the page is missing it (a build bug). */
export function byId<T extends HTMLElement = HTMLElement>(id: string, type?: { new (): T }): T {
  const el = document.getElementById(id);
  if (!el || (type && !(el instanceof type))) throw new Error(`page element #${id} is missing`);
  return el as T;
}

/** A short, human message for an error (OtsrErrors are already one line). */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Makes `zone` accept dropped files (and highlights it while something is dragged over it). */
export function onDropFiles(zone: HTMLElement, handler: (files: File[]) => void): void {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length > 0) handler(files);
  });
}

/**
 * Ends the current task so that the browser can paint (progress bars) and handle input (Cancel) between
 * chunks of work. A MessageChannel message, not requestAnimationFrame or setTimeout: those stop or slow to
 * once a second (or a minute) in a background tab, and the work would stall there.
 */
export function yieldToPage(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** Seconds, readably. */
export function formatSeconds(s: number): string {
  return s < 10 ? `${s.toFixed(2)} s` : s < 120 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
