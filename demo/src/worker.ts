// The engine's worker: webgen's ready-made worker entry, as a site that installed the package uses it.
import 'webgen/worker';
