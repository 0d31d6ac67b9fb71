export { createApiServer, type ApiServer, type ApiServerDeps, type ApiServices, type ApiApp } from './server.js';
export { API_PREFIX, type ApiCheckpoints, type ApiContext } from './context.js';
export { toHttpError, type HttpError } from './errors.js';
