import { setFlagsFromString } from 'node:v8';

// Imported first by bootstrap.ts, so it runs before the application loads (docs/architecture.md, "API heap").
// V8's allocation-site pretenuring decided, in about half of the API's starts, to allocate some objects in the old
// generation from the beginning; from then on each webhook request's objects were kept through young collections
// (1.9 MB promoted per collection at 2,000 requests/s, pauses of 3–5 ms instead of under 1 ms, major collections
// every few seconds). Without it, nothing is promoted and the request path costs ~20% less CPU. It is a V8 flag that
// NODE_OPTIONS refuses, and start commands vary: set here, every way of starting a gateway process has it.
setFlagsFromString('--no-allocation-site-pretenuring');
