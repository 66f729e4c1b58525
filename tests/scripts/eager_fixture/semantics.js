// What a function declaration, expression or arrow means, printed line by
// line: tests/scripts/eager_compile_keeps_what_functions_mean_test.ts runs
// this file as written and rewritten by scripts/eager_compile.ts, and
// compares the two outputs.
// The forms lint warns about are the point of it:
// deno-lint-ignore-file no-func-assign no-inner-declarations require-await
const lines = [];
const say = (...words) => lines.push(words.join(" "));

// Called before the line that declares it (hoisting).
say("early", early(2));
function early(n) {
  return n * 10 + later(n);
  function later(m) {
    return m + 1;
  }
}

// Its own name inside it is the scope's binding, as for a declaration.
function selfName() {
  return selfName;
}
const firstSelf = selfName;
say("self", selfName() === firstSelf, selfName.name, selfName.length);
function replaced() {
  return "before";
}
replaced = () => "after";
say("replaced", replaced());

// Recursion, generators, async functions, default parameters.
function factorial(n) {
  return n <= 1 ? 1 : n * factorial(n - 1);
}
function* counted(limit, step = (x) => x + 1) {
  for (let i = 0; i < limit; i = step(i)) yield i;
}
async function doubled(n) {
  return await Promise.resolve(n * 2);
}
say("factorial", factorial(6), [...counted(4)].join(","), counted.name);
say("async", await doubled(21), doubled.name, doubled.constructor.name);

// Blocks: a declaration in a block belongs to it.
{
  say("block", inBlock());
  function inBlock() {
    return "in block";
  }
}
say("outside", typeof inBlock);
for (const n of [1, 2]) {
  say("loop", perTurn());
  function perTurn() {
    return n * 100;
  }
}

// `this`, `arguments` and `new.target` stay what they were.
const holder = {
  value: 7,
  viaArrow() {
    return [1].map(() => this.value)[0];
  },
  viaExpression: function () {
    return arguments.length + this.value;
  },
};
say("this", holder.viaArrow(), holder.viaExpression(1, 2));
function Maker() {
  this.made = new.target === Maker;
}
say("new.target", new Maker().made, Maker.name, typeof Maker.prototype);

// Object methods: plain, async, generator, quoted names; one that uses
// `super`, and one named __proto__, stay methods.
const base = { greet: () => "base" };
const methods = {
  __proto__: base,
  plain(x) {
    return x + this.offset;
  },
  async later(x) {
    return await Promise.resolve(x * 2);
  },
  *pairs(n) {
    for (let i = 0; i < n; i++) yield [i, i * i];
  },
  "quoted-name"() {
    return "quoted";
  },
  greet() {
    return "child of " + super.greet();
  },
  offset: 1,
};
const odd = {
  __proto__() {
    return "own __proto__ method";
  },
};
say(
  "methods",
  methods.plain(1),
  await methods.later(3),
  JSON.stringify([...methods.pairs(3)]),
  methods["quoted-name"](),
  methods.greet(),
  methods.plain.name,
  methods.later.name,
  Object.getPrototypeOf(methods) === base,
  Object.getPrototypeOf(odd) === Object.prototype,
  odd.__proto__(),
);

// Classes are left as they are.
class Counter {
  #count = 0;
  static created = (() => "static")();
  add(step = 1) {
    this.#count += step;
    return this;
  }
  get count() {
    return this.#count;
  }
}
say("class", new Counter().add().add(2).count, Counter.created);

// Arrows everywhere an expression goes.
const table = [3, 1, 2].sort((a, b) => a - b).map((x) => ({ x }));
say("arrows", JSON.stringify(table), `${[1, 2].map((x) => x * 3)}`);
const curried = (a) => (b) => (c) => a + b + c;
say("curried", curried(1)(2)(3), curried.name);
const asyncArrow = async (x) => x + 1;
const asyncBare = async (x) => ({ doubled: x * 2 });
const asyncBlock = async (a, b) => {
  const sum = await Promise.resolve(a + b);
  return [1, 2].map(async (n) => n * sum);
};
const asyncPattern = async ({ value }) => value;
const asyncThis = {
  base: 40,
  add(n) {
    return (async () => this.base + n)();
  },
};
function asyncArguments() {
  return (async () => arguments.length)();
}
say(
  "async arrows",
  await asyncArrow(1),
  JSON.stringify(await asyncBare(4)),
  (await Promise.all(await asyncBlock(1, 2))).join(","),
  await asyncPattern({ value: "pattern" }),
  await asyncThis.add(2),
  await asyncArguments(1, 2, 3),
  asyncArrow.name,
  asyncBlock.name,
);
// A switch case's declaration stays where it is.
switch (lines.length) {
  default: {
    say("switch", inSwitch());
    function inSwitch() {
      return "switch";
    }
  }
}

console.log(lines.join("\n"));
