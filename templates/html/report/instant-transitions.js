// d3-flame-graph animates every change through d3-transition, even with a duration of 0: each
// update schedules three transitions per frame drawn, applied on the next animation frame through
// interpolators (SVG transforms are parsed by creating SVG elements). On ~1,500 frames that cost
// most of a zoom. The report never animates, so `selection.transition()` here applies what it is
// given at once, with the same attr/style/text calls. It is a function main.js calls, not an
// import for its side effect: package.json declares the project free of side effects (for the CLI
// bundle), so esbuild would drop a bare `import './instant-transitions.js'`.
import { selection } from 'd3-selection';
import 'd3-transition';

function instant(target) {
  const transition = {
    duration: () => transition,
    delay: () => transition,
    ease: () => transition,
    transition: () => transition,
    attr(name, value) {
      target.attr(name, value);
      return transition;
    },
    style(name, value, priority) {
      target.style(name, value, priority);
      return transition;
    },
    text(value) {
      target.text(value);
      return transition;
    },
  };
  return transition;
}

/** Makes every `selection.transition()` apply its attr/style/text calls at once; idempotent. */
export function makeTransitionsInstant() {
  selection.prototype.transition = function transition() {
    return instant(this);
  };
}
