export { requestJson, expectOk, type JsonRequest, type JsonResponse } from './request-json.js';
