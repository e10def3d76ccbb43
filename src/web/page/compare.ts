/** The before/after slider: the result canvas is clipped at a split position the user drags. */
export function setupCompare(figure: HTMLElement, range: HTMLInputElement): void {
  const apply = () => figure.style.setProperty('--split', `${range.value}%`);
  range.addEventListener('input', apply);
  apply();
}
