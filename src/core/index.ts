export * from './errors.js';
export * from './hash.js';
export * from './time.js';
export * from './logger.js';
export * from './semaphore.js';
export * from './activity.js';
export * from './process.js';
export * from './module-worker.js';
