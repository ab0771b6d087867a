// taskq dashboard: live updates and small conveniences. The pages work without this script; it only
// keeps the live part of a page current (server-sent events), asks before destructive actions and
// shows times in the reader's time zone. No dependencies, no inline code (the CSP allows none).
(() => {
  const body = document.body;
  const base = body.dataset.base || '';
  const view = body.dataset.live;
  const liveRegion = document.getElementById('live');
  const liveState = document.querySelector('[data-live-state]');

  const localTimes = (root) => {
    for (const el of root.querySelectorAll('time[datetime]')) {
      const date = new Date(el.getAttribute('datetime'));
      if (!Number.isNaN(date.getTime())) {
        el.title = el.textContent;
        el.textContent = date.toLocaleString(undefined, {
          year: 'numeric',
          month: 'short',
          day: 'numeric',
          hour: '2-digit',
          minute: '2-digit',
          second: '2-digit',
        });
      }
    }
  };

  const setState = (text, on) => {
    if (!liveState) return;
    liveState.textContent = text;
    liveState.classList.toggle('on', on);
  };

  // Forms that would destroy something ask first.
  document.addEventListener('submit', (event) => {
    const form = event.target;
    const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  localTimes(document);

  if (view && liveRegion && 'EventSource' in window) {
    const source = new EventSource(`${base}/live?view=${encodeURIComponent(view)}`);
    source.addEventListener('open', () => setState('Live', true));
    source.addEventListener('error', () => setState('Reconnecting…', false));
    source.addEventListener('failed', () => setState('Live updates stopped (see the server log)', false));
    source.addEventListener('fragment', (event) => {
      // Keep the focus where it was when the element is still there after the update.
      const focused = document.activeElement;
      const key = focused && liveRegion.contains(focused) ? focusKey(focused) : undefined;
      // The fragment is the server's HTML, in which every value from a task is already escaped as text.
      liveRegion.innerHTML = event.data;
      localTimes(liveRegion);
      if (key) {
        const again = liveRegion.querySelector(key);
        if (again instanceof HTMLElement) again.focus();
      }
      body.dispatchEvent(new CustomEvent('taskq:updated'));
    });
  }

  function focusKey(el) {
    if (el.id) return `#${CSS.escape(el.id)}`;
    const href = el.getAttribute('href');
    if (href) return `${el.tagName.toLowerCase()}[href="${CSS.escape(href)}"]`;
    const form = el.closest('form');
    if (form) {
      const hidden = [...form.querySelectorAll('input[type=hidden]:not([name=_csrf]):not([name=back])')].map(
        (i) => `input[name="${CSS.escape(i.name)}"][value="${CSS.escape(i.value)}"]`,
      );
      if (hidden.length > 0) return `form[action="${CSS.escape(form.getAttribute('action'))}"] ${hidden[0]} ~ button`;
    }
    return undefined;
  }
})();
