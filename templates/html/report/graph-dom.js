// What the report does with the DOM d3-flame-graph draws: its tooltip, trimming the labels it
// hides anyway, and reading the drawn frames back.

/** A tooltip for d3-flame-graph, which calls show/hide: the lines `describe` gives, set with textContent. */
export function makeTooltip(tooltip, describe) {
  function tip() {}
  tip.show = (event, d) => {
    const [name, ...rest] = describe(d);
    const strong = document.createElement('div');
    strong.className = 'tip-name';
    strong.textContent = name;
    const body = document.createElement('div');
    body.textContent = rest.join('\n');
    tooltip.replaceChildren(strong, body);
    tooltip.hidden = false;
    const left = Math.min(event.clientX + 14, window.innerWidth - tooltip.offsetWidth - 8);
    const below = event.clientY + 18;
    const top = below + tooltip.offsetHeight > window.innerHeight - 4 ? event.clientY - tooltip.offsetHeight - 10 : below;
    tooltip.style.left = Math.max(4, left) + 'px';
    tooltip.style.top = Math.max(4, top) + 'px';
    return tip;
  };
  tip.hide = () => {
    tooltip.hidden = true;
    return tip;
  };
  return tip;
}

/**
 * d3-flame-graph gives every frame a label (an HTML <div> in a <foreignObject>) and hides it
 * below 35 px; most frames are narrower, and those hidden labels still cost chromium a layout
 * box each. Labels are kept only on frames wide enough to show one (and added, the way
 * d3-flame-graph makes them, to a reused frame that became wide).
 */
const LABEL_MIN_WIDTH = 35;
export function keepLabelsOfWideFrames(container, frameHeight) {
  for (const g of container.querySelectorAll('svg > g')) {
    const rect = g.firstElementChild;
    const label = rect.nextElementSibling;
    const width = Number(rect.getAttribute('width'));
    if (width < LABEL_MIN_WIDTH) {
      if (label) label.remove();
    } else if (!label) {
      const object = document.createElementNS('http://www.w3.org/2000/svg', 'foreignObject');
      object.setAttribute('width', String(width));
      object.setAttribute('height', String(frameHeight));
      object.style.pointerEvents = 'none';
      const div = document.createElementNS('http://www.w3.org/1999/xhtml', 'div');
      div.className = 'd3-flame-graph-label';
      div.style.display = 'block';
      div.textContent = g.__data__.data.name;
      object.appendChild(div);
      g.appendChild(object);
    }
  }
}

/** The frames d3-flame-graph drew in `element`, read back from its SVG (for tests and benchmarks). */
export function framesIn(element, highlight) {
  const out = [];
  for (const g of element.querySelectorAll('svg g')) {
    const d = g.__data__;
    if (!d) continue;
    const match = /translate\(\s*([-\d.e]+)[\s,]+([-\d.e]+)\s*\)/.exec(g.getAttribute('transform') || '');
    const rect = g.querySelector('rect');
    out.push({
      index: d.data.i,
      name: d.data.name,
      depth: d.depth,
      x: match ? Number(match[1]) : 0,
      y: match ? Number(match[2]) : 0,
      width: Number(rect.getAttribute('width')),
      value: d.data.value,
      fill: rect.getAttribute('fill'),
      fade: !!d.data.fade,
      matched: rect.getAttribute('fill') === highlight,
      element: g,
    });
  }
  return out;
}
