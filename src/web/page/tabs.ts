/** The two tabs (Upscale, Train): plain buttons toggling `hidden` on their panels. */
/** Sets up the tabs; returns a function that shows the tab with the given id (e.g. 'tab-upscale'). */
export function setupTabs(): (id: string) => void {
  const tabs = [...document.querySelectorAll<HTMLButtonElement>('[role="tab"]')];
  const show = (tab: HTMLButtonElement) => {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute('aria-selected', String(selected));
      const panel = document.getElementById(t.getAttribute('aria-controls') ?? '');
      if (panel) panel.hidden = !selected;
    }
  };
  for (const t of tabs) t.addEventListener('click', () => show(t));
  return (id) => {
    const tab = tabs.find((t) => t.id === id);
    if (tab) show(tab);
  };
}
