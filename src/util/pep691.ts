/** PEP 691: the JSON simple API's media type, and the file ferry writes it to beside each PEP 503 index.html. */
export const PEP691_CONTENT_TYPE = 'application/vnd.pypi.simple.v1+json';
export const PEP691_PAGE = 'index.json';
