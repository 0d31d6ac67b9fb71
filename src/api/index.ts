export { createApiServer, type ApiServer, type ApiServerDeps, type ApiApp } from './server.js';
export { API_PREFIX, type ApiContext } from './context.js';
export { toHttpError, type HttpError } from './errors.js';
